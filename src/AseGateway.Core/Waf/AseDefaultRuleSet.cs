using System.Buffers;
using System.Text.RegularExpressions;

namespace AseGateway.Waf;

/// <summary>
/// The built-in managed rule set ("AseDefault" 1.0): a small, native set against the most common attacks —
/// scanners, protocol abuse, path traversal, command injection, XSS and SQL injection — scored like the Core Rule
/// Set (critical 5, error 4, warning 3, notice 2). It is a baseline, not the CRS: the CRS engine plugs into the
/// same seam as its own rule set.
/// </summary>
internal sealed partial class AseDefaultRuleSet : IManagedRuleSet
{
    public const string Type = "AseDefault";
    public const string Version = "1.0";

    /// <summary>
    /// The rules, each with what every match of its pattern contains: one of a few characters, or one of a few ASCII
    /// words in any case. A value with none of them cannot match, so it is not handed to the regex engine at all. A
    /// regex call costs its setup (a runner, a scan and a match object) even on a short value it rejects at once: on a
    /// plain <c>GET /</c> the four patterns that read the path and the Host header were 2.4% of the gateway's CPU over
    /// HTTP/1.1, and with the headers a browser sends (a URL in Referer, five cookies) the patterns still ran on seven
    /// values a request, 7.6% of it, for the dots, colons and equals signs every URL and cookie has. Characters are
    /// punctuation (and NUL, digits): no case variants, so the sets hold under <see cref="RegexOptions.IgnoreCase"/>.
    /// Words are looked for in ASCII values only, as IgnoreCase also matches some letters outside ASCII to ASCII ones
    /// (the Kelvin sign to k): a value with any other character goes to the pattern.
    /// </summary>
    internal static readonly ManagedRule[] AllRules =
    [
        new(new("913100", "SCANNER-DETECTION", WafSeverity.Critical, "Security scanner identified by its User-Agent"), Targets.UserAgent, Scanner(), null,
            ["sqlmap", "nikto", "nessus", "masscan", "zgrab", "nmap scripting engine", "dirbuster", "gobuster", "wpscan", "acunetix", "netsparker", "w3af"]),
        new(new("920270", "PROTOCOL-ENFORCEMENT", WafSeverity.Critical, "NUL character in request"), Targets.Uri | Targets.Args, Nul(), "\0"),
        // Every alternative has "..", "%2e%2e" or "%c0%ae".
        new(new("930100", "LFI", WafSeverity.Critical, "Path traversal attack (../)"), Targets.Uri | Targets.Args, Traversal(), null, ["..", "%2e%2e", "%c0%ae"]),
        // A separator (; | & `) or "$(" before the command, or one of two paths. A separator counts only before the
        // first letter of a command name ("&ads=false" in a cookie is no command).
        new(new("932100", "RCE", WafSeverity.Critical, "Remote command execution: Unix command injection"), Targets.Args | Targets.Cookies | Targets.Body, CommandInjection(), ";|&`",
            ["$(", "/etc/passwd", "/bin/sh", "/bin/bash"], CommandFirstLetters),
        // A tag's "<", "javascript", an event handler's name, "document.cookie" or "alert".
        new(new("941100", "XSS", WafSeverity.Critical, "XSS attack: script tag, event handler or javascript: URI"), Targets.Uri | Targets.Args | Targets.Cookies | Targets.Referer, CrossSiteScripting(), "<",
            ["javascript", "onerror", "onload", "onclick", "onmouseover", "onfocus", "onblur", "onsubmit", "onchange", "oninput", "document.cookie", "alert"]),
        // A quote, ";" or "(", or the words of the alternatives without one: "union", "information_schema", and "or"
        // before whitespace (the tautology "or 1=1"; "=" alone, in every cookie and query, is no filter).
        new(new("942100", "SQLI", WafSeverity.Critical, "SQL injection: tautology, UNION SELECT, stacked or time-based query"), Targets.Args | Targets.Cookies, SqlInjection(), "'\"`;(",
            ["union", "information_schema", .. WordsBeforeWhitespace("or")]),
        // Both alternatives are anchored at a digit (\d: any Unicode decimal digit) or "[".
        new(new("920350", "PROTOCOL-ENFORCEMENT", WafSeverity.Warning, "Host header is a numeric IP address"), Targets.Host, NumericHost(), DecimalDigitsAnd('[')),
        new(new("200002", "REQUEST-BODY", WafSeverity.Critical, "Failed to parse request body"), Targets.BodyError, null, null),
    ];

    public string RuleSetType => Type;

    public string RuleSetVersion => Version;

    public IReadOnlyList<ManagedRuleInfo> Rules { get; } = [.. AllRules.Select(r => r.Info)];

    public void Evaluate(WafRequest request, ManagedRuleContext context)
    {
        var rules = AllRules;
        var cookieSuspects = request.HasCookies ? CookieSuspects(request, context) : 0;
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if (context.IsEnabled(rule.Info) && Find(rule, request, context, cookiesMayMatch: (cookieSuspects & (1 << i)) != 0) is { } match)
            {
                context.Report(match);
            }
        }
    }

    /// <summary>
    /// The enabled cookie rules (bit <c>i</c> for <c>AllRules[i]</c>) whose filter some cookie's value passes, from one
    /// walk of the Cookie header for all of them: three rules read every cookie, and walking a browser's five cookies
    /// once per rule (finding each ';' and '=', looking for '%') was 1% of the gateway's CPU with its headers. Only a
    /// rule with its bit set walks the cookies again, to name the cookie and run its pattern (<see cref="Cookies"/>).
    /// </summary>
    private static int CookieSuspects(WafRequest request, ManagedRuleContext context)
    {
        var rules = AllRules;
        var candidates = 0;
        for (var i = 0; i < rules.Length; i++)
        {
            if ((rules[i].Targets & Targets.Cookies) != 0 && context.IsEnabled(rules[i].Info))
            {
                candidates |= 1 << i;
            }
        }

        var suspects = 0;
        foreach (var header in request.CookieHeaders)
        {
            var offset = 0;
            while (suspects != candidates && header is not null && Forwarding.CookieHeader.TryNext(header, ref offset, out _, out var raw))
            {
                ReadOnlySpan<char> value = raw.Contains('%') ? request.DecodedCookie(header, offset, raw) : raw;
                for (var i = 0; i < rules.Length; i++)
                {
                    if ((candidates & ~suspects & (1 << i)) != 0 && rules[i].MayMatch(value))
                    {
                        suspects |= 1 << i;
                    }
                }
            }
        }

        return suspects;
    }

    private static ManagedRuleMatch? Find(ManagedRule rule, WafRequest request, ManagedRuleContext context, bool cookiesMayMatch)
    {
        var info = rule.Info;
        if ((rule.Targets & Targets.BodyError) != 0)
        {
            return request.BodyError is { } error && context.MayInspect(info, WafInspectedKind.Body, "REQUEST_BODY")
                ? new ManagedRuleMatch(info, "REQBODY_ERROR", error, info.Description)
                : null;
        }

        // The path only (REQUEST_FILENAME): query arguments are inspected one by one below, where exclusions apply.
        if ((rule.Targets & Targets.Uri) != 0 && context.MayInspect(info, WafInspectedKind.Uri, "REQUEST_FILENAME")
            && Test(rule, request.DecodedPath) is { } uri)
        {
            return new ManagedRuleMatch(info, "REQUEST_FILENAME", uri, info.Description);
        }

        if ((rule.Targets & Targets.Args) != 0
            && (Scan(request.QueryArgs, "ARGS", rule, context) ?? Scan(request.BodyArgs, "ARGS", rule, context)) is { } arg)
        {
            return arg;
        }

        if ((rule.Targets & Targets.Cookies) != 0 && cookiesMayMatch && Cookies(rule, request, context) is { } cookie)
        {
            return cookie;
        }

        // The body's bytes are checked for the rule's required characters before they are decoded: a 16 KiB upload's
        // text is a 32 KB string, made for nothing when no rule can match it.
        if ((rule.Targets & Targets.Body) != 0 && request.BodyArgs.Count == 0 && rule.MayMatch(request.Body.Span)
            && context.MayInspect(info, WafInspectedKind.Body, "REQUEST_BODY") && Test(rule, request.BodyText) is { } body)
        {
            return new ManagedRuleMatch(info, "REQUEST_BODY", body, info.Description);
        }

        return Header(rule, request, context, Targets.UserAgent, "User-Agent")
            ?? Header(rule, request, context, Targets.Referer, "Referer")
            ?? Header(rule, request, context, Targets.Host, "Host");
    }

    /// <summary>
    /// Every cookie's value, read in place: the filter is asked first, on the value as sent (decoded first when it has
    /// a percent-escape; the first such value once for all three cookie rules, <see cref="WafRequest.DecodedCookie"/>),
    /// and only a value that passes it is made a string and, with its name, checked further.
    /// </summary>
    private static ManagedRuleMatch? Cookies(ManagedRule rule, WafRequest request, ManagedRuleContext context)
    {
        foreach (var header in request.CookieHeaders)
        {
            var offset = 0;
            while (header is not null && Forwarding.CookieHeader.TryNext(header, ref offset, out var name, out var raw))
            {
                var decoded = raw.Contains('%') ? request.DecodedCookie(header, offset, raw) : null;
                if (decoded is null ? !rule.MayMatch(raw) : !rule.MayMatch(decoded))
                {
                    continue;
                }

                var cookieName = new string(name);
                if (context.MayInspect(rule.Info, WafInspectedKind.CookieValue, cookieName) && Test(rule, decoded ?? new string(raw)) is { } matched)
                {
                    return new ManagedRuleMatch(rule.Info, $"REQUEST_COOKIES:{cookieName}", matched, rule.Info.Description);
                }
            }
        }

        return null;
    }

    private static ManagedRuleMatch? Header(ManagedRule rule, WafRequest request, ManagedRuleContext context, Targets target, string name)
    {
        if ((rule.Targets & target) == 0 || !context.MayInspect(rule.Info, WafInspectedKind.HeaderValue, name))
        {
            return null;
        }

        foreach (var value in request.Headers[name])
        {
            if (value is not null && Test(rule, value) is { } matched)
            {
                return new ManagedRuleMatch(rule.Info, $"REQUEST_HEADERS:{name}", matched, rule.Info.Description);
            }
        }

        return null;
    }

    private static ManagedRuleMatch? Scan(IReadOnlyList<KeyValuePair<string, string>> args, string variable, ManagedRule rule, ManagedRuleContext context)
    {
        var info = rule.Info;
        // Five rules scan the arguments of every request: by index, not through a boxed list enumerator each time.
        for (var i = 0; i < args.Count; i++)
        {
            var (name, value) = args[i];
            if (context.MayInspect(info, WafInspectedKind.ArgName, name) && Test(rule, name) is { } inName)
            {
                return new ManagedRuleMatch(info, $"{variable}_NAMES:{name}", inName, info.Description);
            }

            if (context.MayInspect(info, WafInspectedKind.ArgValue, name) && Test(rule, value) is { } inValue)
            {
                return new ManagedRuleMatch(info, $"{variable}:{name}", inValue, info.Description);
            }
        }

        return null;
    }

    private static string? Test(ManagedRule rule, string value)
    {
        if (!rule.MayMatch(value))
        {
            return null;
        }

        var match = rule.Pattern!.Match(value);
        return match.Success ? match.Value : null;
    }

    private static string DecimalDigitsAnd(char extra)
    {
        var characters = new System.Text.StringBuilder().Append(extra);
        for (var c = char.MinValue; c < char.MaxValue; c++)
        {
            if (char.IsDigit(c))
            {
                characters.Append(c);
            }
        }

        return characters.ToString();
    }

    [Flags]
    internal enum Targets
    {
        Uri = 1,
        Args = 2,
        Cookies = 4,
        Body = 8,
        UserAgent = 16,
        Referer = 32,
        Host = 64,
        BodyError = 128,
    }

    /// <summary>
    /// The characters <c>\s</c> matches in ASCII: after one of <see cref="ManagedRule.RequiredCharacters"/>, the
    /// patterns allow any run of them before what must follow (a test holds this to the regex engine's <c>\s</c>).
    /// </summary>
    internal const string AsciiWhitespace = " \t\n\v\f\r";

    /// <summary>The first letters, in both cases, of the command names <see cref="CommandInjection"/> looks for after a separator.</summary>
    internal const string CommandFirstLetters = "bcilnprsuwBCILNPRSUW";

    private static readonly SearchValues<char> AsciiWhitespaceValues = SearchValues.Create(AsciiWhitespace);

    /// <summary><paramref name="word"/> followed by each ASCII whitespace character: the words of a pattern's <c>word\s+</c>.</summary>
    private static string[] WordsBeforeWhitespace(string word)
    {
        var words = new string[AsciiWhitespace.Length];
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = word + AsciiWhitespace[i];
        }

        return words;
    }

    /// <param name="RequiredCharacters">Characters one of which every match contains, unless it contains one of <paramref name="RequiredWords"/>.</param>
    /// <param name="RequiredWords">ASCII words one of which, in any case, every match without one of <paramref name="RequiredCharacters"/> contains.</param>
    /// <param name="RequiredAfterCharacter">
    /// When set, a required character counts only where the first character after it that is not ASCII whitespace is
    /// one of these (or is not ASCII: <c>\s</c> and IgnoreCase reach beyond ASCII). For a pattern whose separator must
    /// be followed by a name, as a command injection's is.
    /// </param>
    /// <remarks>With neither characters nor words, every non-empty value may match.</remarks>
    internal sealed record ManagedRule(ManagedRuleInfo Info, Targets Targets, Regex? Pattern, string? RequiredCharacters, string[]? RequiredWords = null, string? RequiredAfterCharacter = null)
    {
        private readonly SearchValues<char>? _required = RequiredCharacters is null ? null : SearchValues.Create(RequiredCharacters);
        private readonly SearchValues<char>? _after = RequiredAfterCharacter is null ? null : SearchValues.Create(RequiredAfterCharacter);
        private readonly SearchValues<string>? _words = RequiredWords is null ? null : SearchValues.Create(RequiredWords, StringComparison.OrdinalIgnoreCase);
        private readonly SearchValues<byte>? _requiredUtf8 = Utf8Filter(RequiredCharacters, RequiredWords);

        /// <summary>False when the value cannot match: it is empty, or holds none of the required characters and words.</summary>
        public bool MayMatch(string value) => MayMatch(value.AsSpan());

        /// <inheritdoc cref="MayMatch(string)"/>
        public bool MayMatch(ReadOnlySpan<char> span)
        {
            if (span.IsEmpty)
            {
                return false;
            }

            return (_required is null && _words is null)
                || (_required is not null && (_after is null ? span.ContainsAny(_required) : HasRequiredCharacterBeforeFollower(span)))
                || (_words is not null && (span.ContainsAny(_words) || !System.Text.Ascii.IsValid(span)));
        }

        private bool HasRequiredCharacterBeforeFollower(ReadOnlySpan<char> span)
        {
            for (var at = span.IndexOfAny(_required!); at >= 0; at = span.IndexOfAny(_required!))
            {
                span = span[(at + 1)..];
                var next = span.IndexOfAnyExcept(AsciiWhitespaceValues);
                if (next < 0)
                {
                    return false;
                }

                if (_after!.Contains(span[next]) || !char.IsAscii(span[next]))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// <see cref="MayMatch(string)"/> for UTF-8 text, asked before it is decoded: never false when the decoded text
        /// may match. True when the characters are not all ASCII, so the text must be decoded to tell.
        /// </summary>
        public bool MayMatch(ReadOnlySpan<byte> utf8) => !utf8.IsEmpty
            && (_requiredUtf8 is null || utf8.ContainsAny(_requiredUtf8) || (_words is not null && !System.Text.Ascii.IsValid(utf8)));

        /// <summary>
        /// The bytes of the required characters, when they are all ASCII (UTF-8 encodes nothing else with ASCII bytes,
        /// and decoding replaces invalid bytes with U+FFFD, so the decoded text holds one of the characters exactly
        /// when the bytes hold one of them), and the first character of each word in either case: the bytes of ASCII
        /// text that holds a word hold its first character. Null, no filter, when a character is not ASCII.
        /// </summary>
        private static SearchValues<byte>? Utf8Filter(string? characters, string[]? words)
        {
            if ((characters is null && words is null) || (characters is not null && !System.Text.Ascii.IsValid(characters)))
            {
                return null;
            }

            var set = new System.Text.StringBuilder(characters);
            foreach (var word in words ?? [])
            {
                set.Append(char.ToLowerInvariant(word[0])).Append(char.ToUpperInvariant(word[0]));
            }

            return SearchValues.Create(System.Text.Encoding.ASCII.GetBytes(set.ToString()));
        }
    }

    // Every pattern must be linear in the input, whatever the input (no ReDoS). Those that are linear by their shape
    // run on the source-generated backtracking engine: no quantifier can retry what another one consumed (fixed
    // literals, bounded or anchored repeats, a \s* run that only a delimiter starts and a letter ends), and it builds
    // nothing at run time. NonBacktracking would hold about 1-2.5 MB of construction caches per pattern for the
    // process's life (5 MB for these five). XSS and SQL injection have overlapping repeats ([^>]*? then on\w+, \s*
    // around optional quotes) that backtracking makes quadratic or worse on crafted input: they keep NonBacktracking.
    private const RegexOptions Linear = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;
    private const RegexOptions NonBacktracking = Linear | RegexOptions.NonBacktracking;

    [GeneratedRegex(@"\b(sqlmap|nikto|nessus|masscan|zgrab|nmap scripting engine|dirbuster|gobuster|wpscan|acunetix|netsparker|w3af)\b", Linear)]
    private static partial Regex Scanner();

    [GeneratedRegex(@"\x00", Linear)]
    private static partial Regex Nul();

    [GeneratedRegex(@"(?:^|[\\/])\.\.(?:[\\/]|$)|%2e%2e(?:%2f|%5c|/|\\)|\.\.%(?:2f|5c)|%c0%ae", Linear)]
    private static partial Regex Traversal();

    [GeneratedRegex(@"(?:[;|&`]|\$\(|\|\|)\s*(?:cat|ls|id|uname|whoami|wget|curl|bash|sh|nc|ncat|python[23]?|perl|chmod|rm)\b|/etc/passwd|/bin/(?:ba)?sh\b", Linear)]
    private static partial Regex CommandInjection();

    [GeneratedRegex(@"<\s*script\b|javascript\s*:|\bon(?:error|load|click|mouseover|focus|blur|submit|change|input)\s*=|<\s*(?:iframe|svg|img|object|embed)\b[^>]*?(?:src|on\w+)\s*=|document\.cookie|\balert\s*\(", NonBacktracking)]
    private static partial Regex CrossSiteScripting();

    [GeneratedRegex(@"['""`]\s*(?:or|and)\s+['""`]?\w+['""`]?\s*(?:=|like|<|>)|\bunion\b[\s\S]{0,40}?\bselect\b|;\s*(?:drop|delete|insert|update|alter|create|exec|shutdown)\b|\b(?:sleep|benchmark|pg_sleep|waitfor\s+delay)\s*\(|\binformation_schema\b|'\s*(?:--|#|/\*)|\bor\s+1\s*=\s*1\b", NonBacktracking)]
    private static partial Regex SqlInjection();

    [GeneratedRegex(@"^\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?$|^\[[0-9a-f:]+\](?::\d+)?$", Linear)]
    private static partial Regex NumericHost();
}

/// <summary>The rule sets this gateway ships.</summary>
internal sealed class BuiltInManagedRuleSetProvider : IManagedRuleSetProvider
{
    public bool Supports(string ruleSetType, string ruleSetVersion) =>
        string.Equals(ruleSetType, AseDefaultRuleSet.Type, StringComparison.OrdinalIgnoreCase) && ruleSetVersion == AseDefaultRuleSet.Version;

    public IManagedRuleSet Create(string ruleSetType, string ruleSetVersion) => new AseDefaultRuleSet();
}
