using System.Net;
using AseGateway.Waf;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Tests.Waf;

/// <summary>
/// Each AseDefault rule against a real request object: what it finds (rule, variable, matched text) and a near miss it
/// must leave alone. The patterns run on two regex engines (source-generated backtracking for those linear by their
/// shape, NonBacktracking for XSS and SQL injection); both must find the same leftmost match text.
/// </summary>
public sealed class AseDefaultRuleSetTests
{
    private static readonly Dictionary<string, WafRuleOverride> NoOverrides = [];

    private static IReadOnlyList<ManagedRuleMatch> Evaluate(string target, string host = "web.contoso.test", params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        var question = target.IndexOf('?', StringComparison.Ordinal);
        context.Request.Method = "GET";
        context.Request.Path = question < 0 ? target : target[..question];
        context.Request.QueryString = new QueryString(question < 0 ? string.Empty : target[question..]);
        context.Request.Host = new HostString(host);
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }

        var rules = new ManagedRuleContext(NoOverrides, []);
        new AseDefaultRuleSet().Evaluate(new WafRequest(context, IPAddress.Loopback, 50000, "tx-1"), rules);
        return rules.Matches;
    }

    [Theory]
    [InlineData("/", "User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)", "913100", "REQUEST_HEADERS:User-Agent", "sqlmap")]
    [InlineData("/", "User-Agent", "Mozilla/5.00 (Nikto/2.1.6)", "913100", "REQUEST_HEADERS:User-Agent", "Nikto")]
    [InlineData("/?name=a%00b", null, null, "920270", "ARGS:name", "\0")]
    [InlineData("/files/..%2f..%2fetc", null, null, "930100", "REQUEST_FILENAME", "/../")]
    [InlineData("/download?file=..\\..\\boot.ini", null, null, "930100", "ARGS:file", "..\\")]
    [InlineData("/?host=127.0.0.1;%20cat%20/etc/hosts", null, null, "932100", "ARGS:host", "; cat")]
    [InlineData("/?cmd=x%7C%7Cwhoami", null, null, "932100", "ARGS:cmd", "||whoami")]
    [InlineData("/?q=%3Cimg%20src=x%20onerror=alert(1)%3E", null, null, "941100", "ARGS:q", "<img src=")]
    [InlineData("/?id=1%27%20OR%20%271%27=%271", null, null, "942100", "ARGS:id", "' OR '1'=")]
    [InlineData("/", "Cookie", "theme=dark; user=admin'--", "942100", "REQUEST_COOKIES:user", "'--")]
    [InlineData("/", "Cookie", "note=<script>alert(1)</script>", "941100", "REQUEST_COOKIES:note", "<script")]
    [InlineData("/", "Cookie", "theme=dark; user=admin%27--", "942100", "REQUEST_COOKIES:user", "'--")] // the kept decoded value, by the third cookie rule
    public void Evaluate_Attack_ReportsRuleVariableAndMatchedText(string target, string? header, string? value, string ruleId, string variable, string matched)
    {
        var matches = header is null ? Evaluate(target) : Evaluate(target, "web.contoso.test", (header, value!));

        var match = Assert.Single(matches, m => m.Rule.RuleId == ruleId);
        Assert.Equal(variable, match.Variable);
        Assert.Equal(matched, match.MatchedData);
    }

    [Fact]
    public void Evaluate_PercentEscapedCookies_EachRuleFindsItsAttackInTheDecodedValue()
    {
        // Three cookie rules read the decoded values of one request; the first escaped value is decoded once and kept.
        // Five harmless escaped cookies first, so that the attacks are past the kept one and decoded each time.
        var harmless = string.Join("; ", Enumerable.Range(0, 5).Select(i => $"h{i}=a%20b%2C{i}"));
        var matches = Evaluate("/", "web.contoso.test", ("Cookie", $"{harmless}; cmd=x%3B%20cat%20%2Fetc%2Fhosts; note=%3Cscript%3Ealert(1)%3C%2Fscript%3E; user=admin%27--"));

        Assert.Equal("; cat", Assert.Single(matches, m => m.Rule.RuleId == "932100" && m.Variable == "REQUEST_COOKIES:cmd").MatchedData);
        Assert.Equal("<script", Assert.Single(matches, m => m.Rule.RuleId == "941100" && m.Variable == "REQUEST_COOKIES:note").MatchedData);
        Assert.Equal("'--", Assert.Single(matches, m => m.Rule.RuleId == "942100" && m.Variable == "REQUEST_COOKIES:user").MatchedData);
        Assert.Equal(3, matches.Count);
    }

    [Fact]
    public void Rules_FitTheBitsOfTheOneCookieWalk() => Assert.InRange(AseDefaultRuleSet.AllRules.Length, 1, 31);

    [Fact]
    public void Evaluate_AnAttackInTheSecondCookieHeader_IsFound_AsInTheFirst()
    {
        // HTTP/2 clients may send each cookie as a field of its own: the walk goes on into the next value.
        var match = Assert.Single(Evaluate("/", "web.contoso.test", ("Cookie", "theme=dark; lang=en"), ("Cookie", "note=<script>alert(1)</script>")));
        Assert.Equal(("941100", "REQUEST_COOKIES:note"), (match.Rule.RuleId, match.Variable));
    }

    [Fact]
    public void DecodedCookie_FirstEscapedCookieAskedAgain_IsDecodedOnce_OthersEachTime()
    {
        const string header = "a=%27x; b=%3Cy";
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = header;
        var request = new WafRequest(context, IPAddress.Loopback, 50000, "tx-1");

        var first = request.DecodedCookie(header, 7, "%27x");
        var second = request.DecodedCookie(header, header.Length, "%3Cy");

        Assert.Equal("'x", first);
        Assert.Equal("<y", second);
        Assert.Same(first, request.DecodedCookie(header, 7, "%27x"));
        // Only the first is kept: the second is decoded again, to the same text.
        Assert.Equal(second, request.DecodedCookie(header, header.Length, "%3Cy"));
        Assert.NotSame(second, request.DecodedCookie(header, header.Length, "%3Cy"));
        // Another header string with the same text is another cookie.
        Assert.NotSame(first, request.DecodedCookie(new string(header.AsSpan()), 7, "%27x"));
    }

    [Theory]
    [InlineData("192.0.2.10:8080")]
    [InlineData("[2001:db8::1]")]
    public void Evaluate_NumericHost_ReportsTheHostHeader(string host)
    {
        var match = Assert.Single(Evaluate("/", host));

        Assert.Equal("920350", match.Rule.RuleId);
        Assert.Equal("REQUEST_HEADERS:Host", match.Variable);
        Assert.Equal(host, match.MatchedData);
    }

    [Theory]
    [InlineData("/", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")]
    [InlineData("/", "User-Agent", "sqlmapper-client/2.0")]
    [InlineData("/", "User-Agent", "h2load nghttp2/1.52.0")]
    [InlineData("/", "Cookie", "ARRAffinity=0a1b2c; theme=dark")]
    [InlineData("/docs/v1..v2/diff?range=1..2", null, null)]
    [InlineData("/?list=cats;dogs&shell=bashful", null, null)]
    [InlineData("/?q=the%20union%20of%20sets&note=onwards", null, null)]
    [InlineData("/?title=Don%27t%20stop", null, null)]
    public void Evaluate_NearMiss_ReportsNothing(string target, string? header, string? value)
    {
        var matches = header is null ? Evaluate(target) : Evaluate(target, "web.contoso.test", (header, value!));

        Assert.Empty(matches);
    }

    /// <summary>
    /// The characters a rule requires before its pattern runs must be in every match: values built from the patterns'
    /// own fragments, joined and cut at random (seeded, so a failure repeats), are matched by each pattern, and
    /// every value it matches must pass the rule's filter. Values it does not match show nothing, so the test also
    /// checks that each pattern matched at least 100 of them, and that each filter did turn some away. Host-like values
    /// of Arabic-Indic digits are among them: \d is any Unicode decimal digit, for the pattern and for its filter.
    /// </summary>
    [Fact]
    public void RequiredCharacters_InUtf8Bytes_AgreeWithTheDecodedText()
    {
        // A body is filtered on its bytes before it is decoded: for an ASCII set the two must agree on any bytes,
        // invalid UTF-8 included (it decodes to U+FFFD, never to ASCII); a set that is not all ASCII must not filter.
        byte[][] bodies =
        [
            "plain text"u8.ToArray(), "a;b"u8.ToArray(), "caf\u00e9 /etc"u8.ToArray(), [0xC3, 0x28, 0x3B], [0xE2, 0x82], [0xFF, 0xFE, 0x2F],
            [0xC0, 0xAE, 0xC0, 0xAE], "\u0663\u0661"u8.ToArray(), [0x00], "[::1]"u8.ToArray(), "x UNION y"u8.ToArray(), "x $(id)"u8.ToArray(),
            "ni\u212Ato"u8.ToArray(), "%C0%AE"u8.ToArray(), "Alert"u8.ToArray(), "lert"u8.ToArray(),
        ];
        foreach (var rule in AseDefaultRuleSet.AllRules)
        {
            if (rule.RequiredCharacters is null && rule.RequiredWords is null)
            {
                continue;
            }

            var ascii = rule.RequiredCharacters is null || System.Text.Ascii.IsValid(rule.RequiredCharacters);
            foreach (var body in bodies)
            {
                var text = System.Text.Encoding.UTF8.GetString(body);
                if (rule.RequiredWords is null)
                {
                    Assert.Equal(ascii ? rule.MayMatch(text) : true, rule.MayMatch(body));
                }
                else
                {
                    // Words are looked for in the text only: the bytes' filter is coarser, never stricter.
                    Assert.True(rule.MayMatch(body) || !rule.MayMatch(text), $"rule {rule.Info.RuleId}: the filter turns away the bytes of \"{text}\" but not its text");
                }
            }
        }
    }

    /// <summary>
    /// IgnoreCase matches some letters outside ASCII to ASCII ones (the Kelvin sign to k, the long s to s): a word
    /// filter that only knew ASCII would turn such a value away though the pattern matches it. Such values go to the
    /// pattern.
    /// </summary>
    [Theory]
    [InlineData("913100", "Mozilla/5.0 ni\u212Ato/2.1")]
    [InlineData("913100", "\u017Fqlmap/1.7")]
    [InlineData("942100", "1 UNION \u017FELECT password FROM users")]
    [InlineData("941100", "javascript\u00A0:alert")]
    public void RequiredWords_PassValuesWithLettersOutsideAscii(string ruleId, string value)
    {
        var rule = Array.Find(AseDefaultRuleSet.AllRules, r => r.Info.RuleId == ruleId)!;
        Assert.True(rule.MayMatch(value), $"rule {ruleId}: the filter turns away \"{value}\"");
        if (rule.Pattern!.IsMatch(value))
        {
            Assert.True(rule.MayMatch(System.Text.Encoding.UTF8.GetBytes(value)));
        }
    }

    /// <summary>What a browser sends with a page request reaches no pattern: the filters turn every value away.</summary>
    [Fact]
    public void RequiredCharactersAndWords_TurnAwayABrowsersHeadersAndCookies()
    {
        (AseDefaultRuleSet.Targets Target, string Value)[] values =
        [
            (AseDefaultRuleSet.Targets.UserAgent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
            (AseDefaultRuleSet.Targets.Referer, "https://bench.perf.test/products/list?page=2&sort=price&category=outdoor"),
            (AseDefaultRuleSet.Targets.Cookies, "3f9c2a7e5b1d4c8fa0e6b2d9c7a4f1e8"),
            (AseDefaultRuleSet.Targets.Cookies, "GA1.1.1234567890.1733222222"),
            (AseDefaultRuleSet.Targets.Cookies, "GS1.1.1733222222.3.1.1733223333.0.0.0"),
            (AseDefaultRuleSet.Targets.Cookies, "analytics=false&ads=false"),
            (AseDefaultRuleSet.Targets.Cookies, "dark"),
            (AseDefaultRuleSet.Targets.Uri, "/products/list/image.v2.jpg"),
            (AseDefaultRuleSet.Targets.Args, "outdoor"),
            (AseDefaultRuleSet.Targets.Args, "2"),
        ];
        foreach (var rule in AseDefaultRuleSet.AllRules)
        {
            foreach (var (target, value) in values)
            {
                if ((rule.Targets & target) != 0 && rule.Info.RuleId != "920350")
                {
                    Assert.False(rule.MayMatch(value), $"rule {rule.Info.RuleId} hands \"{value}\" to its pattern");
                }
            }
        }
    }

    /// <summary>
    /// The filters that look past whitespace (a command after its separator, "or" before the tautology) skip the ASCII
    /// characters in <see cref="AseDefaultRuleSet.AsciiWhitespace"/>: exactly those <c>\s</c> matches in ASCII, in
    /// the patterns' options. One the regex took that the filter did not would let a value through unseen.
    /// </summary>
    [Fact]
    public void AsciiWhitespace_IsWhatTheRegexEngineCallsWhitespace()
    {
        var whitespace = new System.Text.RegularExpressions.Regex(@"^\s$", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        var expected = new System.Text.StringBuilder();
        for (var c = '\0'; c < 128; c++)
        {
            if (whitespace.IsMatch(c.ToString()))
            {
                expected.Append(c);
            }
        }

        Assert.Equal(expected.ToString().Order(), AseDefaultRuleSet.AsciiWhitespace.Order());
    }

    /// <summary>
    /// Values the finer filters turn away or let through: a separator counts only before a command's first letter,
    /// "or" only before whitespace, and a value with characters outside ASCII always goes to the pattern.
    /// </summary>
    [Theory]
    [InlineData("932100", "analytics=false&ads=false", false)]
    [InlineData("932100", "a;  \t", false)]
    [InlineData("932100", "x; \t\nCAT /tmp/x", true)]
    [InlineData("932100", "a|b||rm -rf", true)]
    [InlineData("932100", "a&\u00A0id", true)]
    [InlineData("932100", "a&\u017Fh", true)]
    [InlineData("932100", "`whoami`", true)]
    [InlineData("942100", "analytics=false", false)]
    [InlineData("942100", "color=red", false)]
    [InlineData("942100", "x OR\t1=1", true)]
    [InlineData("942100", "x or\v1 = 1", true)]
    [InlineData("942100", "x or\u00A01=1", true)]
    public void FinerFilters_TurnAwayOnlyWhatCannotMatch(string ruleId, string value, bool mayMatch)
    {
        var rule = Array.Find(AseDefaultRuleSet.AllRules, r => r.Info.RuleId == ruleId)!;
        Assert.Equal(mayMatch, rule.MayMatch(value));
        if (rule.Pattern!.IsMatch(value))
        {
            Assert.True(mayMatch, $"rule {ruleId} matches \"{value}\": the case is wrong");
        }
    }

    [Fact]
    public void RequiredCharacters_AreInEveryMatchOfThePattern()
    {
        string[] fragments =
        [
            "<", "< ", "script", "iframe", "svg", "img", " src", "onerror", "onload", "=", " =", "javascript", ":", "document", ".cookie",
            "alert", "(", "..", "/", "\\", "%2e%2e", "%2f", "%5c", "%c0%ae", ";", "|", "||", "&", "`", "$(", "cat", " id", "whoami", "/etc/passwd",
            "/bin/sh", "/bin/bash", "\0", "1", "192", "2001:db8", "[", "]", ":8080", "'", "\"", " or ", " and ", "union", " select", "sleep",
            "information_schema", "--", "#", "/*", "x", " ", "A", "1.", "7.", "1.1.1.", "\u0661.\u0662.\u0663.", "\u0663", "[::1]",
            "UNION", "SeLeCt", "INFORMATION_SCHEMA", "JavaScript", "OnError", "ONLOAD", "onclick", "onmouseover", "onfocus", "onblur",
            "onsubmit", "onchange", "oninput", "on", "error", "DOCUMENT.COOKIE", "Alert", "%2E%2E", "%C0%AE", "$", "/etc", "/bin/",
            "sqlmap", "NIKTO", "nessus", "Masscan", "zgrab", "Nmap Scripting Engine", "nmap", "dirbuster", "gobuster", "wpscan",
            "acunetix", "netsparker", "w3af", "\u212A", "\u017F", "ni", "to",
            "\t", "\n", "\v", "\f", "\r", "\u00A0", "\u2003", "\u0085", "\u001F", "OR", "Or", "or", " 1", "1=1", "=1", "1 = 1",
            "ls", "uname", "wget", "curl", "bash", "sh", "nc", "ncat", "python3", "perl", "chmod", "rm", "Cat", "LS", "ads", "&ads=false",
        ];
        var random = new Random(20261201);
        var builder = new System.Text.StringBuilder();
        foreach (var rule in AseDefaultRuleSet.AllRules)
        {
            if (rule.Pattern is null || (rule.RequiredCharacters is null && rule.RequiredWords is null))
            {
                continue;
            }

            var matched = 0;
            var filtered = 0;
            for (var i = 0; i < 100_000; i++)
            {
                builder.Clear();
                for (var parts = random.Next(1, 7); parts > 0; parts--)
                {
                    builder.Append(fragments[random.Next(fragments.Length)]);
                }

                // Cut a character out now and then, so that near misses of every shape come up too.
                if (builder.Length > 1 && random.Next(3) == 0)
                {
                    builder.Remove(random.Next(builder.Length), 1);
                }

                var value = builder.ToString();
                var utf8 = System.Text.Encoding.UTF8.GetBytes(value);
                Assert.True(rule.MayMatch(utf8) || !rule.MayMatch(value), $"rule {rule.Info.RuleId}: the filter turns away the bytes of \"{value}\" but not its text");
                if (rule.Pattern.IsMatch(value))
                {
                    matched++;
                    Assert.True(rule.MayMatch(value), $"rule {rule.Info.RuleId} matches \"{value}\" but its filter turns it away");
                }
                else if (!rule.MayMatch(value))
                {
                    filtered++;
                }
            }

            Assert.True(matched >= 100, $"rule {rule.Info.RuleId}: only {matched} generated values matched its pattern");
            Assert.True(filtered >= 200, $"rule {rule.Info.RuleId}: its filter turned only {filtered} values away");
        }
    }
}
