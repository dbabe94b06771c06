using System.Globalization;
using System.Text;

namespace AseGateway.Tests.Waf.Crs.Injection;

/// <summary>
/// The ModSecurity transformations that CRS chains before <c>@detectSQLi</c> and <c>@detectXSS</c>, written from the
/// ModSecurity reference manual for these regression tests: the engine's own transformations replace them once the
/// rule engine exists. Each takes and returns a string, so the tests read like the rule.
/// </summary>
internal static class CrsTransforms
{
    public static string Apply(string name, string value) => name switch
    {
        "none" => value,
        "utf8toUnicode" => Utf8ToUnicode(value),
        "urlDecode" => UrlDecode(value, unicode: false),
        "urlDecodeUni" => UrlDecode(value, unicode: true),
        "htmlEntityDecode" => HtmlEntityDecode(value),
        "jsDecode" => JsDecode(value),
        "cssDecode" => CssDecode(value),
        "removeNulls" => value.Replace("\0", string.Empty, StringComparison.Ordinal),
        _ => throw new NotSupportedException($"The regression harness has no transformation '{name}'."),
    };

    /// <summary>Non-ASCII characters become %uHHHH, so that urlDecodeUni then sees them as %u escapes.</summary>
    public static string Utf8ToUnicode(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c < 0x80)
            {
                builder.Append(c);
            }
            else
            {
                builder.Append("%u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>
    /// %HH escapes and '+' as space; with <paramref name="unicode"/> (urlDecodeUni) also %uHHHH, full-width ASCII
    /// (%uFF01–%uFF5E) mapping to ASCII as IIS does. An invalid escape stays as written.
    /// </summary>
    public static string UrlDecode(string value, bool unicode)
    {
        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '+')
            {
                builder.Append(' ');
            }
            else if (unicode && c == '%' && i + 5 < value.Length && (value[i + 1] | 0x20) == 'u' && IsHex(value, i + 2, 4))
            {
                builder.Append(Unicode(Hex(value, i + 2, 4)));
                i += 5;
            }
            else if (c == '%' && i + 2 < value.Length && IsHex(value, i + 1, 2))
            {
                builder.Append((char)Hex(value, i + 1, 2));
                i += 2;
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    /// <summary>&amp;#DDD; &amp;#xHH; (the semicolon optional) and the named entities ModSecurity knows.</summary>
    public static string HtmlEntityDecode(string value) => Unescape(value, '&', static (text, at, output) =>
    {
        if (!TryEntity(text, at, out var decoded, out var length))
        {
            return 0;
        }

        output.Append(decoded);
        return length;
    });

    /// <summary>JavaScript escapes: \uHHHH, \xHH, octal, the one-letter escapes, and \c for any other c.</summary>
    public static string JsDecode(string value) => Unescape(value, '\\', static (text, at, output) =>
    {
        var next = text[at + 1];
        if ((next | 0x20) == 'u' && at + 5 < text.Length && IsHex(text, at + 2, 4))
        {
            output.Append(Unicode(Hex(text, at + 2, 4)));
            return 6;
        }

        if ((next | 0x20) == 'x' && at + 3 < text.Length && IsHex(text, at + 2, 2))
        {
            output.Append((char)Hex(text, at + 2, 2));
            return 4;
        }

        if (next is >= '0' and <= '7')
        {
            var j = at + 1;
            var code = 0;
            while (j < text.Length && j < at + 4 && text[j] is >= '0' and <= '7')
            {
                code = (code * 8) + (text[j] - '0');
                j++;
            }

            output.Append((char)(code & 0xFF));
            return j - at;
        }

        output.Append(next switch { 'a' => '\a', 'b' => '\b', 'f' => '\f', 'n' => '\n', 'r' => '\r', 't' => '\t', 'v' => '\v', _ => next });
        return 2;
    });

    /// <summary>CSS escapes: a backslash and one to six hex digits (one following space eaten), or a backslash and a character.</summary>
    public static string CssDecode(string value) => Unescape(value, '\\', static (text, at, output) =>
    {
        var j = at + 1;
        while (j < text.Length && j < at + 7 && char.IsAsciiHexDigit(text[j]))
        {
            j++;
        }

        if (j > at + 1)
        {
            var code = Hex(text, at + 1, j - at - 1);
            output.Append(j - at - 1 >= 4 ? Unicode(code & 0xFFFF) : (char)(code & 0xFF));
            return (j < text.Length && text[j] is ' ' or '\t' or '\n' ? j + 1 : j) - at;
        }

        if (text[at + 1] != '\n') // an escaped newline is a line continuation: both go
        {
            output.Append(text[at + 1]);
        }

        return 2;
    });

    /// <summary>Decodes the escapes that start with <paramref name="marker"/>; the decoder says how many characters one took (0: not an escape).</summary>
    private static string Unescape(string value, char marker, Func<string, int, StringBuilder, int> decodeAt)
    {
        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var consumed = value[i] == marker && i + 1 < value.Length ? decodeAt(value, i, builder) : 0;
            if (consumed == 0)
            {
                builder.Append(value[i]);
            }
            else
            {
                i += consumed - 1;
            }
        }

        return builder.ToString();
    }

    private static char Unicode(int code) => code is >= 0xFF01 and <= 0xFF5E ? (char)((code & 0xFF) + 0x20) : (char)code;

    private static bool IsHex(string value, int start, int count)
    {
        for (var i = start; i < start + count; i++)
        {
            if (i >= value.Length || !char.IsAsciiHexDigit(value[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static int Hex(string value, int start, int count) =>
        int.Parse(value.AsSpan(start, count), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static bool TryEntity(string value, int ampersand, out string decoded, out int length)
    {
        decoded = string.Empty;
        length = 0;
        var i = ampersand + 1;
        if (i < value.Length && value[i] == '#')
        {
            var hex = i + 1 < value.Length && (value[i + 1] | 0x20) == 'x';
            var digitsStart = hex ? i + 2 : i + 1;
            var j = digitsStart;
            while (j < value.Length && j < digitsStart + 7 && (hex ? char.IsAsciiHexDigit(value[j]) : char.IsAsciiDigit(value[j])))
            {
                j++;
            }

            if (j == digitsStart)
            {
                return false;
            }

            var code = int.Parse(value.AsSpan(digitsStart, j - digitsStart), hex ? NumberStyles.HexNumber : NumberStyles.None, CultureInfo.InvariantCulture);
            decoded = ((char)(code & 0xFFFF)).ToString();
            length = (j < value.Length && value[j] == ';' ? j + 1 : j) - ampersand;
            return true;
        }

        foreach (var (name, text) in NamedEntities)
        {
            if (string.CompareOrdinal(value, i, name, 0, name.Length) == 0)
            {
                decoded = text;
                var end = i + name.Length;
                length = (end < value.Length && value[end] == ';' ? end + 1 : end) - ampersand;
                return true;
            }
        }

        return false;
    }

    private static readonly (string Name, string Text)[] NamedEntities =
        [("quot", "\""), ("amp", "&"), ("lt", "<"), ("gt", ">"), ("nbsp", "\u00A0")];
}
