using System.Buffers;
using System.Collections.Frozen;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AseGateway.Waf.Crs;

/// <summary>
/// SecLang transformations. Values are byte strings (one char per byte, 0-255, as ModSecurity sees the request), so
/// decoders produce bytes and case folding touches ASCII only, exactly as ModSecurity's C code does.
/// </summary>
internal static class CrsTransforms
{
    /// <summary>Marks <c>t:none</c>: clears the transformations inherited from SecDefaultAction.</summary>
    public const string None = "none";

    private static readonly FrozenDictionary<string, Func<string, string>> All = new Dictionary<string, Func<string, string>>(StringComparer.OrdinalIgnoreCase)
    {
        ["lowercase"] = Lowercase,
        ["uppercase"] = Uppercase,
        ["urlDecode"] = static v => UrlDecode(v, unicode: false),
        ["urlDecodeUni"] = static v => UrlDecode(v, unicode: true),
        ["urlEncode"] = UrlEncode,
        ["htmlEntityDecode"] = HtmlEntityDecode,
        ["jsDecode"] = static v => BackslashDecode(v, javascript: true),
        ["cssDecode"] = CssDecode,
        ["cmdLine"] = CmdLine,
        ["compressWhitespace"] = CompressWhitespace,
        ["removeWhitespace"] = RemoveWhitespace,
        ["removeNulls"] = static v => v.Contains('\0', StringComparison.Ordinal) ? v.Replace("\0", string.Empty, StringComparison.Ordinal) : v,
        ["replaceNulls"] = static v => v.Replace('\0', ' '),
        ["replaceComments"] = ReplaceComments,
        ["removeComments"] = RemoveComments,
        ["removeCommentsChar"] = RemoveCommentsChar,
        ["normalizePath"] = static v => NormalizePath(v, windows: false),
        ["normalisePath"] = static v => NormalizePath(v, windows: false),
        ["normalizePathWin"] = static v => NormalizePath(v, windows: true),
        ["normalisePathWin"] = static v => NormalizePath(v, windows: true),
        ["base64Decode"] = static v => Base64Decode(v, lenient: false),
        ["base64DecodeExt"] = static v => Base64Decode(v, lenient: true),
        ["base64Encode"] = static v => Convert.ToBase64String(Encoding.Latin1.GetBytes(v)),
        ["hexDecode"] = HexDecode,
        ["hexEncode"] = static v => Convert.ToHexStringLower(Encoding.Latin1.GetBytes(v)),
        ["sqlHexDecode"] = SqlHexDecode,
        ["utf8toUnicode"] = Utf8ToUnicode,
        ["length"] = static v => v.Length.ToString(CultureInfo.InvariantCulture),
#pragma warning disable CA5350, CA5351 // SecLang's t:sha1 and t:md5 fingerprint values for rules; not security hashing.
        ["sha1"] = static v => Encoding.Latin1.GetString(SHA1.HashData(Encoding.Latin1.GetBytes(v))),
        ["md5"] = static v => Encoding.Latin1.GetString(MD5.HashData(Encoding.Latin1.GetBytes(v))),
#pragma warning restore CA5350, CA5351
        ["trim"] = static v => v.Trim(WhitespaceChars),
        ["trimLeft"] = static v => v.TrimStart(WhitespaceChars),
        ["trimRight"] = static v => v.TrimEnd(WhitespaceChars),
        ["escapeSeqDecode"] = static v => BackslashDecode(v, javascript: false),
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static readonly char[] WhitespaceChars = [' ', '\t', '\n', '\r', '\f', '\v'];

    public static bool TryGet(string name, out Func<string, string> transform) => All.TryGetValue(name, out transform!);

    private static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\r' or '\f' or '\v';

    // Most values come out of a transformation unchanged: these find the characters that would change them, so that
    // the common case returns the value itself instead of copying it through a StringBuilder.
    private static readonly SearchValues<char> Whitespace = SearchValues.Create(" \t\n\r\f\v\u00a0");
    private static readonly SearchValues<char> WhitespaceButSpace = SearchValues.Create("\t\n\r\f\v\u00a0");
    private static readonly SearchValues<char> CmdLineChanges = SearchValues.Create("\"'\\^,;\t\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ");

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    private static bool IsHex(char c) => HexValue(c) >= 0;

    /// <summary>A %uXXXX/\uXXXX code point as one byte: full-width ASCII folds to ASCII, anything else keeps its low byte.</summary>
    private static char UnicodeToByte(int code) => code is >= 0xFF01 and <= 0xFF5E ? (char)(code - 0xFEE0) : (char)(code & 0xFF);

    public static string Lowercase(string value)
    {
        foreach (var c in value)
        {
            if (c is >= 'A' and <= 'Z')
            {
                return string.Create(value.Length, value, static (span, source) =>
                {
                    for (var i = 0; i < source.Length; i++)
                    {
                        var ch = source[i];
                        span[i] = ch is >= 'A' and <= 'Z' ? (char)(ch + 32) : ch;
                    }
                });
            }
        }

        return value;
    }

    private static string Uppercase(string value)
    {
        var chars = value.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (chars[i] is >= 'a' and <= 'z')
            {
                chars[i] = (char)(chars[i] - 32);
            }
        }

        return new string(chars);
    }

    public static string UrlDecode(string value, bool unicode)
    {
        if (value.IndexOfAny(['%', '+']) < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '+')
            {
                sb.Append(' ');
            }
            else if (c == '%' && unicode && i + 5 < value.Length && (value[i + 1] is 'u' or 'U')
                && IsHex(value[i + 2]) && IsHex(value[i + 3]) && IsHex(value[i + 4]) && IsHex(value[i + 5]))
            {
                var code = (HexValue(value[i + 2]) << 12) | (HexValue(value[i + 3]) << 8) | (HexValue(value[i + 4]) << 4) | HexValue(value[i + 5]);
                sb.Append(UnicodeToByte(code));
                i += 5;
            }
            else if (c == '%' && i + 2 < value.Length && IsHex(value[i + 1]) && IsHex(value[i + 2]))
            {
                sb.Append((char)((HexValue(value[i + 1]) << 4) | HexValue(value[i + 2])));
                i += 2;
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static string UrlEncode(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c == ' ')
            {
                sb.Append('+');
            }
            else if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '*')
            {
                sb.Append(c);
            }
            else
            {
                sb.Append('%').Append(((int)c & 0xFF).ToString("x2", CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    private static string HtmlEntityDecode(string value)
    {
        if (!value.Contains('&', StringComparison.Ordinal))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            var c = value[i];
            if (c != '&' || i + 1 >= value.Length)
            {
                sb.Append(c);
                i++;
                continue;
            }

            if (value[i + 1] == '#')
            {
                var j = i + 2;
                var hex = j < value.Length && (value[j] is 'x' or 'X');
                if (hex)
                {
                    j++;
                }

                var start = j;
                var code = 0;
                while (j < value.Length && (hex ? IsHex(value[j]) : char.IsAsciiDigit(value[j])))
                {
                    code = unchecked((code * (hex ? 16 : 10)) + (hex ? HexValue(value[j]) : value[j] - '0'));
                    j++;
                }

                if (j > start)
                {
                    sb.Append((char)(code & 0xFF));
                    i = j < value.Length && value[j] == ';' ? j + 1 : j;
                    continue;
                }

                sb.Append(c);
                i++;
                continue;
            }

            var k = i + 1;
            while (k < value.Length && char.IsAsciiLetterOrDigit(value[k]))
            {
                k++;
            }

            char? named = value.AsSpan(i + 1, k - i - 1) switch
            {
                var s when s.Equals("quot", StringComparison.OrdinalIgnoreCase) => '"',
                var s when s.Equals("amp", StringComparison.OrdinalIgnoreCase) => '&',
                var s when s.Equals("lt", StringComparison.OrdinalIgnoreCase) => '<',
                var s when s.Equals("gt", StringComparison.OrdinalIgnoreCase) => '>',
                var s when s.Equals("nbsp", StringComparison.OrdinalIgnoreCase) => '\u00a0',
                _ => null,
            };
            if (named is { } decoded)
            {
                sb.Append(decoded);
                i = k < value.Length && value[k] == ';' ? k + 1 : k;
                continue;
            }

            sb.Append(c);
            i++;
        }

        return sb.ToString();
    }

    /// <summary>
    /// t:jsDecode (<paramref name="javascript"/>: also \uHHHH, unknown escapes drop the backslash) and t:escapeSeqDecode
    /// (ANSI C escapes; unknown escapes stay as written).
    /// </summary>
    private static string BackslashDecode(string value, bool javascript)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c != '\\' || i + 1 >= value.Length)
            {
                sb.Append(c);
                continue;
            }

            var n = value[i + 1];
            if (javascript && n is 'u' && i + 5 < value.Length && IsHex(value[i + 2]) && IsHex(value[i + 3]) && IsHex(value[i + 4]) && IsHex(value[i + 5]))
            {
                var code = (HexValue(value[i + 2]) << 12) | (HexValue(value[i + 3]) << 8) | (HexValue(value[i + 4]) << 4) | HexValue(value[i + 5]);
                sb.Append(UnicodeToByte(code));
                i += 5;
            }
            else if (DecodeHexOrOctal(value, i, sb, upperX: !javascript) is var end and >= 0)
            {
                i = end;
            }
            else if (SimpleEscape(n) is { } decoded)
            {
                sb.Append(decoded);
                i++;
            }
            else if (javascript)
            {
                sb.Append(n);
                i++;
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static char? SimpleEscape(char c) => c switch
    {
        'a' => '\a',
        'b' => '\b',
        'f' => '\f',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\v',
        '\\' => '\\',
        '?' => '?',
        '\'' => '\'',
        '"' => '"',
        _ => null,
    };

    /// <summary>Decodes <c>\xHH</c> or <c>\OOO</c> at the backslash <paramref name="i"/>; returns the index of its last char, or -1.</summary>
    private static int DecodeHexOrOctal(string value, int i, StringBuilder sb, bool upperX)
    {
        var n = value[i + 1];
        if ((n == 'x' || (upperX && n == 'X')) && i + 3 < value.Length && IsHex(value[i + 2]) && IsHex(value[i + 3]))
        {
            sb.Append((char)((HexValue(value[i + 2]) << 4) | HexValue(value[i + 3])));
            return i + 3;
        }

        if (n is < '0' or > '7')
        {
            return -1;
        }

        var j = i + 1;
        var code = 0;
        while (j < value.Length && j < i + 4 && value[j] is >= '0' and <= '7')
        {
            code = (code * 8) + (value[j] - '0');
            j++;
        }

        sb.Append((char)(code & 0xFF));
        return j - 1;
    }

    private static string CssDecode(string value)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            if (i + 1 >= value.Length)
            {
                break;
            }

            var j = i + 1;
            var code = 0;
            while (j < value.Length && j < i + 7 && IsHex(value[j]))
            {
                code = (code << 4) | HexValue(value[j]);
                j++;
            }

            if (j > i + 1)
            {
                sb.Append(UnicodeToByte(code));
                if (j < value.Length && IsSpace(value[j]))
                {
                    j++;
                }

                i = j - 1;
            }
            else if (value[i + 1] == '\n')
            {
                i++;
            }
            else
            {
                sb.Append(value[i + 1]);
                i++;
            }
        }

        return sb.ToString();
    }

    private static string CmdLine(string value)
    {
        var span = value.AsSpan();
        if (span.IndexOfAny(CmdLineChanges) < 0 && !span.Contains("  ", StringComparison.Ordinal) && !span.Contains(" /", StringComparison.Ordinal) && !span.Contains(" (", StringComparison.Ordinal))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        var space = false;
        foreach (var raw in value)
        {
            switch (raw)
            {
                case '"' or '\'' or '\\' or '^':
                    continue;
                case ' ' or ',' or ';' or '\t' or '\r' or '\n':
                    if (!space)
                    {
                        sb.Append(' ');
                        space = true;
                    }

                    continue;
                case '/' or '(':
                    if (space && sb.Length > 0)
                    {
                        sb.Length--;
                    }

                    break;
            }

            space = false;
            sb.Append(raw is >= 'A' and <= 'Z' ? (char)(raw + 32) : raw);
        }

        return sb.ToString();
    }

    private static string CompressWhitespace(string value)
    {
        if (value.AsSpan().IndexOfAny(WhitespaceButSpace) < 0 && !value.Contains("  ", StringComparison.Ordinal))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        var inSpace = false;
        foreach (var c in value)
        {
            if (IsSpace(c) || c == '\u00a0')
            {
                if (!inSpace)
                {
                    sb.Append(' ');
                }

                inSpace = true;
            }
            else
            {
                sb.Append(c);
                inSpace = false;
            }
        }

        return sb.ToString();
    }

    private static string RemoveWhitespace(string value)
    {
        if (value.AsSpan().IndexOfAny(Whitespace) < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (!IsSpace(c) && c != '\u00a0')
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static string ReplaceComments(string value)
    {
        var sb = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            if (value[i] == '/' && i + 1 < value.Length && value[i + 1] == '*')
            {
                var end = value.IndexOf("*/", i + 2, StringComparison.Ordinal);
                sb.Append(' ');
                i = end < 0 ? value.Length : end + 2;
                continue;
            }

            sb.Append(value[i++]);
        }

        return sb.ToString();
    }

    private static string RemoveComments(string value)
    {
        var sb = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            if (value[i] == '/' && i + 1 < value.Length && value[i + 1] == '*')
            {
                var end = value.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? value.Length : end + 2;
            }
            else if (value[i] == '<' && string.CompareOrdinal(value, i, "<!--", 0, 4) == 0)
            {
                var end = value.IndexOf("-->", i + 4, StringComparison.Ordinal);
                i = end < 0 ? value.Length : end + 3;
            }
            else if ((value[i] == '-' && i + 1 < value.Length && value[i + 1] == '-') || value[i] == '#')
            {
                break;
            }
            else
            {
                sb.Append(value[i++]);
            }
        }

        return sb.ToString();
    }

    private static string RemoveCommentsChar(string value) => value
        .Replace("/*", string.Empty, StringComparison.Ordinal)
        .Replace("*/", string.Empty, StringComparison.Ordinal)
        .Replace("--", string.Empty, StringComparison.Ordinal)
        .Replace("#", string.Empty, StringComparison.Ordinal);

    public static string NormalizePath(string value, bool windows)
    {
        if (windows)
        {
            value = value.Replace('\\', '/');
        }

        if (value.Length == 0)
        {
            return value;
        }

        var absolute = value[0] == '/';
        var trailing = value[^1] == '/' || value.EndsWith("/.", StringComparison.Ordinal) || value.EndsWith("/..", StringComparison.Ordinal) || value is "." or "..";
        var parts = new List<string>();
        foreach (var segment in value.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..")
                {
                    parts.RemoveAt(parts.Count - 1);
                }
                else if (!absolute)
                {
                    parts.Add("..");
                }

                continue;
            }

            parts.Add(segment);
        }

        var joined = string.Join('/', parts);
        if (absolute)
        {
            joined = "/" + joined;
        }

        if (trailing && joined.Length > 0 && joined[^1] != '/')
        {
            joined += "/";
        }

        return joined;
    }

    private static string Base64Decode(string value, bool lenient)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '+' or '/')
            {
                sb.Append(c);
            }
            else if (c == '=' || !lenient)
            {
                break;
            }
        }

        var length = sb.Length - (sb.Length % 4);
        if (sb.Length % 4 >= 2)
        {
            sb.Append('=', 4 - (sb.Length % 4));
            length = sb.Length;
        }

        try
        {
            return Encoding.Latin1.GetString(Convert.FromBase64String(sb.ToString(0, length)));
        }
        catch (FormatException)
        {
            return string.Empty;
        }
    }

    private static string HexDecode(string value)
    {
        var sb = new StringBuilder(value.Length / 2);
        for (var i = 0; i + 1 < value.Length; i += 2)
        {
            var high = HexValue(value[i]);
            var low = HexValue(value[i + 1]);
            sb.Append((char)(((high < 0 ? 0 : high) << 4) | (low < 0 ? 0 : low)));
        }

        return sb.ToString();
    }

    private static string SqlHexDecode(string value)
    {
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '0' && i + 3 < value.Length && (value[i + 1] is 'x' or 'X') && IsHex(value[i + 2]) && IsHex(value[i + 3]))
            {
                var j = i + 2;
                while (j + 1 < value.Length && IsHex(value[j]) && IsHex(value[j + 1]))
                {
                    sb.Append((char)((HexValue(value[j]) << 4) | HexValue(value[j + 1])));
                    j += 2;
                }

                i = j - 1;
            }
            else
            {
                sb.Append(value[i]);
            }
        }

        return sb.ToString();
    }

    private static string Utf8ToUnicode(string value)
    {
        // Only a lead byte of a multi-byte sequence (0xC2-0xF4) is rewritten.
        if (value.AsSpan().IndexOfAnyInRange((char)0xC2, (char)0xF4) < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var length = c switch { < (char)0x80 => 1, >= (char)0xC2 and < (char)0xE0 => 2, >= (char)0xE0 and < (char)0xF0 => 3, >= (char)0xF0 and < (char)0xF5 => 4, _ => 0 };
            if (length <= 1 || i + length > value.Length)
            {
                sb.Append(c);
                continue;
            }

            var code = c & (0xFF >> (length + 1));
            var valid = true;
            for (var k = 1; k < length; k++)
            {
                var next = value[i + k];
                if ((next & 0xC0) != 0x80 || next > 0xFF)
                {
                    valid = false;
                    break;
                }

                code = (code << 6) | (next & 0x3F);
            }

            if (!valid)
            {
                sb.Append(c);
                continue;
            }

            sb.Append("%u").Append(code.ToString(code > 0xFFFF ? "x" : "x4", CultureInfo.InvariantCulture));
            i += length - 1;
        }

        return sb.ToString();
    }

}
