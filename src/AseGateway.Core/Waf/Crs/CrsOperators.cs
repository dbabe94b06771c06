using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using AseGateway.Waf.Crs.Injection;

namespace AseGateway.Waf.Crs;

/// <summary>A compiled SecLang operator. <see cref="Match"/> is called per (transformed) value and may set captures.</summary>
internal abstract class CrsOperator
{
    public required string Name { get; init; }

    public bool Negated { get; init; }

    /// <summary>Tests one value. With <paramref name="capture"/>, a match stores TX.0-9 in the transaction.</summary>
    public abstract bool IsMatch(CrsTransaction transaction, string value, bool capture);

    public static CrsOperator Compile(string text, CrsLoadContext load, string where)
    {
        var negated = false;
        var i = 0;
        while (i < text.Length && text[i] == ' ')
        {
            i++;
        }

        if (i < text.Length && text[i] == '!')
        {
            negated = true;
            i++;
        }

        string name;
        string argument;
        if (i < text.Length && text[i] == '@')
        {
            var end = text.IndexOf(' ', i);
            name = end < 0 ? text[(i + 1)..] : text[(i + 1)..end];
            argument = end < 0 ? string.Empty : text[(end + 1)..];
        }
        else
        {
            // No operator name means @rx (ModSecurity's default).
            name = "rx";
            argument = text[i..];
        }

        CrsOperator op = name.ToLowerInvariant() switch
        {
            "rx" => new RxOperator(argument, where) { Name = name },
            "pm" => new PhraseOperator(argument.Split(' ', StringSplitOptions.RemoveEmptyEntries)) { Name = name },
            "pmfromfile" or "pmf" => new PhraseOperator(load.ReadPhraseFiles(argument, where)) { Name = name },
            "streq" or "contains" or "containsword" or "beginswith" or "endswith" or "within" or "eq" or "ge" or "gt" or "le" or "lt" or "strmatch"
                => new CompareOperator(name.ToLowerInvariant(), CrsMacro.Parse(argument, where)) { Name = name },
            "validatebyterange" => new ByteRangeOperator(argument, where) { Name = name },
            "validateurlencoding" => new PredicateOperator(static v => !IsValidUrlEncoding(v)) { Name = name },
            "validateutf8encoding" => new PredicateOperator(static v => !IsValidUtf8(v)) { Name = name },
            "ipmatch" => new IpMatchOperator(argument.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), where) { Name = name },
            "ipmatchfromfile" or "ipmatchf" => new IpMatchOperator(load.ReadPhraseFiles(argument, where), where) { Name = name },
            "unconditionalmatch" => new PredicateOperator(static _ => true) { Name = name },
            "nomatch" => new PredicateOperator(static _ => false) { Name = name },
            "detectsqli" => DetectorOperator.Sqli(),
            "detectxss" => DetectorOperator.Xss(),

            // CRS 3.3's IP reputation (910100, 910140) when configured for it: the gateway has no GeoIP database and
            // makes no DNS blocklist queries, so these never match (ModSecurity without SecGeoLookupDb / DNS fails the same way).
            "geolookup" or "rbl" => new PredicateOperator(static _ => false) { Name = name },
            _ => throw new SecLangException(where, $"unsupported operator '@{name}'"),
        };

        return negated ? WithNegation(op) : op;
    }

    private static NegatedOperator WithNegation(CrsOperator op) => new NegatedOperator(op) { Name = op.Name, Negated = true };

    private sealed class NegatedOperator(CrsOperator inner) : CrsOperator
    {
        public override bool IsMatch(CrsTransaction transaction, string value, bool capture) => !inner.IsMatch(transaction, value, capture: false);
    }

    internal static bool IsValidUrlEncoding(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%')
            {
                if (i + 2 >= value.Length || !char.IsAsciiHexDigit(value[i + 1]) || !char.IsAsciiHexDigit(value[i + 2]))
                {
                    return false;
                }

                i += 2;
            }
        }

        return true;
    }

    /// <summary>The value's bytes form valid, shortest-form UTF-8 (as ModSecurity's validateUtf8Encoding checks).</summary>
    internal static bool IsValidUtf8(string value)
    {
        var bytes = new byte[value.Length];
        for (var i = 0; i < value.Length; i++)
        {
            bytes[i] = (byte)value[i];
        }

        return Utf8.IsValid(bytes);
    }
}

internal sealed class RxOperator : CrsOperator
{
    private const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.Singleline;
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);
    private readonly CrsRegex? _static;
    private readonly CrsMacro? _macro;

    public RxOperator(string pattern, string where)
    {
        if (pattern.Contains("%{", StringComparison.Ordinal))
        {
            _macro = CrsMacro.Parse(pattern, where);
            return;
        }

        try
        {
            _static = CrsRegexCache.Get(PcreToDotNet.Translate(pattern), Options, MatchTimeout);
        }
        catch (ArgumentException ex)
        {
            throw new SecLangException(where, $"regex does not compile: {ex.Message}");
        }
    }

    private static Regex Build(string pattern) => new(PcreToDotNet.Translate(pattern), Options, MatchTimeout);

    public override bool IsMatch(CrsTransaction transaction, string value, bool capture)
    {
        if (_static?.Required is { } required && CrsRegexPrefilter.ProvesNoMatch(required, value))
        {
            return false;
        }

        var regex = _static?.Current ?? Build(_macro!.Expand(transaction));
        try
        {
            if (!capture)
            {
                return regex.IsMatch(value);
            }

            var match = regex.Match(value);
            if (!match.Success)
            {
                return false;
            }

            transaction.SetCaptures(match);
            return true;
        }
        catch (RegexMatchTimeoutException)
        {
            // Like PCRE's match limit in ModSecurity: a runaway match is no match, never a stuck request.
            return false;
        }
    }
}

/// <summary>@pm / @pmFromFile: case-insensitive phrase search on a vectorised multi-string index.</summary>
internal sealed class PhraseOperator : CrsOperator
{
    private readonly SearchValues<string> _phrases;
    private readonly string[] _list;

    public PhraseOperator(IReadOnlyList<string> phrases)
    {
        _list = [.. phrases];
        _phrases = SearchValues.Create(_list, StringComparison.OrdinalIgnoreCase);
    }

    public override bool IsMatch(CrsTransaction transaction, string value, bool capture)
    {
        var index = value.AsSpan().IndexOfAny(_phrases);
        if (index < 0)
        {
            return false;
        }

        if (capture)
        {
            var rest = value.AsSpan(index);
            var found = string.Empty;
            foreach (var phrase in _list)
            {
                if (rest.StartsWith(phrase, StringComparison.OrdinalIgnoreCase) && phrase.Length > found.Length)
                {
                    found = phrase;
                }
            }

            transaction.SetCapture(value.Substring(index, found.Length));
        }

        return true;
    }
}

internal sealed class CompareOperator(string kind, CrsMacro argument) : CrsOperator
{
    public override bool IsMatch(CrsTransaction transaction, string value, bool capture)
    {
        var parameter = argument.Expand(transaction);
        var matched = kind switch
        {
            "streq" => string.Equals(value, parameter, StringComparison.Ordinal),
            "contains" => value.Contains(parameter, StringComparison.Ordinal),
            "containsword" => ContainsWord(value, parameter),
            "beginswith" => value.StartsWith(parameter, StringComparison.Ordinal),
            "endswith" => value.EndsWith(parameter, StringComparison.Ordinal),
            "within" => parameter.Contains(value, StringComparison.Ordinal),
            "strmatch" => value.Contains(parameter, StringComparison.Ordinal),
            "eq" => ToInt(value) == ToInt(parameter),
            "ge" => ToInt(value) >= ToInt(parameter),
            "gt" => ToInt(value) > ToInt(parameter),
            "le" => ToInt(value) <= ToInt(parameter),
            "lt" => ToInt(value) < ToInt(parameter),
            _ => false,
        };
        if (matched && capture && kind is "contains" or "containsword" or "streq" or "beginswith" or "endswith" or "within")
        {
            transaction.SetCapture(kind == "within" ? value : parameter);
        }

        return matched;
    }

    private static bool ContainsWord(string value, string word)
    {
        if (word.Length == 0)
        {
            return true;
        }

        var from = 0;
        int index;
        while ((index = value.IndexOf(word, from, StringComparison.Ordinal)) >= 0)
        {
            var before = index == 0 || !char.IsAsciiLetterOrDigit(value[index - 1]) && value[index - 1] != '_';
            var afterIndex = index + word.Length;
            var after = afterIndex >= value.Length || !char.IsAsciiLetterOrDigit(value[afterIndex]) && value[afterIndex] != '_';
            if (before && after)
            {
                return true;
            }

            from = index + 1;
        }

        return false;
    }

    /// <summary>C's atoi: optional blanks and sign, then leading digits; anything else counts as 0.</summary>
    internal static long ToInt(string text)
    {
        var span = text.AsSpan().TrimStart();
        var negative = false;
        if (span.Length > 0 && (span[0] == '-' || span[0] == '+'))
        {
            negative = span[0] == '-';
            span = span[1..];
        }

        long result = 0;
        foreach (var c in span)
        {
            if (!char.IsAsciiDigit(c))
            {
                break;
            }

            result = Math.Min((result * 10) + (c - '0'), int.MaxValue);
        }

        return negative ? -result : result;
    }
}

internal sealed class ByteRangeOperator : CrsOperator
{
    private readonly bool[] _allowed = new bool[256];

    public ByteRangeOperator(string ranges, string where)
    {
        foreach (var part in ranges.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (!int.TryParse(dash < 0 ? part : part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var low)
                || !int.TryParse(dash < 0 ? part : part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var high)
                || low < 0 || high > 255 || low > high)
            {
                throw new SecLangException(where, $"invalid byte range '{part}'");
            }

            for (var b = low; b <= high; b++)
            {
                _allowed[b] = true;
            }
        }
    }

    public override bool IsMatch(CrsTransaction transaction, string value, bool capture)
    {
        foreach (var c in value)
        {
            if (c > 255 || !_allowed[c])
            {
                return true;
            }
        }

        return false;
    }
}

internal sealed class PredicateOperator(Func<string, bool> predicate) : CrsOperator
{
    public override bool IsMatch(CrsTransaction transaction, string value, bool capture) => predicate(value);
}

internal sealed class IpMatchOperator : CrsOperator
{
    private readonly IPNetwork[] _networks;

    public IpMatchOperator(IReadOnlyList<string> entries, string where)
    {
        var networks = new List<IPNetwork>();
        foreach (var entry in entries)
        {
            if (IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                throw new SecLangException(where, $"invalid address or range '{entry}' for @ipMatch");
            }
        }

        _networks = [.. networks];
    }

    public override bool IsMatch(CrsTransaction transaction, string value, bool capture)
    {
        if (!IPAddress.TryParse(value, out var address))
        {
            return false;
        }

        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>@detectSQLi / @detectXSS on the project's libinjection-equivalent detectors.</summary>
internal sealed class DetectorOperator : CrsOperator
{
    private readonly bool _sqli;

    private DetectorOperator(bool sqli) => _sqli = sqli;

    public static DetectorOperator Sqli() => new(true) { Name = "detectSQLi" };

    public static DetectorOperator Xss() => new(false) { Name = "detectXSS" };

    private bool Detect(string value, out string fingerprint)
    {
        fingerprint = string.Empty;
        return _sqli ? SqlInjectionDetector.IsSqlInjection(value, out fingerprint) : XssDetector.IsXss(value);
    }

    public override bool IsMatch(CrsTransaction transaction, string value, bool capture)
    {
        if (!Detect(value, out var fingerprint))
        {
            return false;
        }

        if (capture || _sqli)
        {
            // ModSecurity puts the libinjection fingerprint (SQLi) or the input (XSS) in TX.0.
            transaction.SetCapture(_sqli ? fingerprint : value);
        }

        return true;
    }
}
