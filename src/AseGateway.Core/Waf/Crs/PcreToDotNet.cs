using System.Text;

namespace AseGateway.Waf.Crs;

/// <summary>
/// Rewrites the PCRE constructs CRS patterns use that .NET's regex syntax lacks: possessive quantifiers become
/// atomic-free greedy ones (same set of matches for a yes/no test), POSIX classes become explicit ranges,
/// <c>\x{HH}</c> becomes <c>\xHH</c>, and an escaped hyphen in a class becomes <c>\x2D</c> (.NET does not start a range
/// at an escaped hyphen: its <c>[\--9]</c> matches only '-' and '9' where PCRE's matches '-' to '9', which CRS's 932230
/// family relies on).
/// </summary>
internal static class PcreToDotNet
{
    public static string Translate(string pattern)
    {
        if (!pattern.Contains('+', StringComparison.Ordinal) && !pattern.Contains("[:", StringComparison.Ordinal) && !pattern.Contains("\\x{", StringComparison.Ordinal) && !pattern.Contains("\\-", StringComparison.Ordinal))
        {
            return pattern;
        }

        var sb = new StringBuilder(pattern.Length);
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                if (pattern[i + 1] == 'x' && i + 2 < pattern.Length && pattern[i + 2] == '{')
                {
                    var end = pattern.IndexOf('}', i + 3);
                    if (end > 0)
                    {
                        var hex = pattern[(i + 3)..end];
                        sb.Append(hex.Length <= 2 ? $"\\x{hex.PadLeft(2, '0')}" : $"\\u{hex.PadLeft(4, '0')}");
                        i = end;
                        continue;
                    }
                }

                if (inClass && pattern[i + 1] == '-')
                {
                    sb.Append("\\x2D");
                    i++;
                    continue;
                }

                sb.Append(c).Append(pattern[i + 1]);
                i++;
                continue;
            }

            if (inClass)
            {
                if (c == '[' && i + 1 < pattern.Length && pattern[i + 1] == ':')
                {
                    var end = pattern.IndexOf(":]", i + 2, StringComparison.Ordinal);
                    if (end > 0 && PosixClass(pattern[(i + 2)..end]) is { } replacement)
                    {
                        sb.Append(replacement);
                        i = end + 1;
                        continue;
                    }
                }

                if (c == ']')
                {
                    inClass = false;
                }

                sb.Append(c);
                continue;
            }

            if (c == '[')
            {
                inClass = true;
                sb.Append(c);
                if (i + 1 < pattern.Length && pattern[i + 1] == '^')
                {
                    sb.Append('^');
                    i++;
                }

                if (i + 1 < pattern.Length && pattern[i + 1] == ']')
                {
                    sb.Append("\\]");
                    i++;
                }

                continue;
            }

            if (c == '+' && i > 0 && pattern[i - 1] is '*' or '+' or '?' or '}' && !IsEscaped(pattern, i - 1) && !IsLazyOrPossessiveMarker(sb))
            {
                continue;
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    private static bool IsEscaped(string pattern, int index)
    {
        var backslashes = 0;
        for (var k = index - 1; k >= 0 && pattern[k] == '\\'; k--)
        {
            backslashes++;
        }

        return backslashes % 2 == 1;
    }

    /// <summary>True when the quantifier before this '+' is itself a marker (as in <c>a++</c>'s second '+' already dropped).</summary>
    private static bool IsLazyOrPossessiveMarker(StringBuilder sb) => sb.Length >= 2 && sb[^1] is '?' && sb[^2] is '*' or '+' or '?' or '}';

    private static string? PosixClass(string name) => name switch
    {
        "alpha" => "a-zA-Z",
        "digit" => "0-9",
        "alnum" => "a-zA-Z0-9",
        "upper" => "A-Z",
        "lower" => "a-z",
        "space" => "\\t\\n\\v\\f\\r ",
        "blank" => " \\t",
        "punct" => "!-/:-@\\[-`{-~",
        "xdigit" => "0-9A-Fa-f",
        "word" => "\\w",
        "cntrl" => "\\x00-\\x1f\\x7f",
        "print" => "\\x20-\\x7e",
        "graph" => "\\x21-\\x7e",
        _ => null,
    };
}
