using Microsoft.Extensions.Primitives;

namespace AseGateway.Forwarding;

/// <summary>
/// The cookies of a request's Cookie header, read in place: each name and value is a span of the header's string,
/// and nothing is allocated for a cookie nobody asks for.
/// </summary>
/// <remarks>
/// ASP.NET Core's <c>HttpRequest.Cookies</c> parses the whole header into a dictionary and unescapes every value into
/// a new string the first time anything reads it: with the five cookies of a usual browser request that parse was
/// 3.3% of the gateway's CPU, for the WAF to find no value worth a pattern and the affinity stage to find no
/// ARRAffinity cookie. Splitting is deliberately looser than that parser, as a WAF's must be: on ';' and ',' (the
/// separators ASP.NET accepts), every segment (a name sent twice is two cookies), a value with spaces or quotes kept
/// whole, and a segment without '=' kept as a value with an empty name, so that no text of the header escapes
/// inspection by sitting in a cookie the framework would have skipped.
/// </remarks>
internal static class CookieHeader
{
    /// <summary>
    /// The next cookie of <paramref name="header"/> from <paramref name="offset"/>, which it moves past it. Names and
    /// values are trimmed of spaces and tabs; empty segments are skipped.
    /// </summary>
    public static bool TryNext(string header, scoped ref int offset, out ReadOnlySpan<char> name, out ReadOnlySpan<char> value)
    {
        while (offset < header.Length)
        {
            var rest = header.AsSpan(offset);
            var end = rest.IndexOfAny(';', ',');
            var segment = (end < 0 ? rest : rest[..end]).Trim(" \t");
            offset += end < 0 ? rest.Length : end + 1;
            if (segment.IsEmpty)
            {
                continue;
            }

            var equals = segment.IndexOf('=');
            name = equals < 0 ? [] : segment[..equals].TrimEnd(" \t");
            value = equals < 0 ? segment : segment[(equals + 1)..].TrimStart(" \t");
            return true;
        }

        name = value = default;
        return false;
    }

    /// <summary>A cookie's value as the application reads it: percent-escapes decoded, as ASP.NET Core decodes them.</summary>
    public static string Decode(ReadOnlySpan<char> value) => value.Contains('%') ? Uri.UnescapeDataString(value) : new string(value);

    /// <summary>
    /// The value of the last non-empty cookie named <paramref name="name"/> (ignoring case, as ASP.NET Core's cookie
    /// collection does), decoded; null when there is none.
    /// </summary>
    public static string? Last(StringValues headers, string name) => Last(headers, name, fallbackName: null);

    /// <summary>
    /// <see cref="Last(StringValues, string)"/> for <paramref name="name"/>, else for <paramref name="fallbackName"/>,
    /// in one walk of the header: a walk per name reads every cookie again to find what is usually not there.
    /// </summary>
    public static string? Last(StringValues headers, string name, string? fallbackName)
    {
        bool found = false, foundFallback = false;
        ReadOnlySpan<char> last = default, lastFallback = default;
        foreach (var header in headers)
        {
            if (header is null)
            {
                continue;
            }

            var offset = 0;
            while (TryNext(header, ref offset, out var cookieName, out var value))
            {
                if (value.IsEmpty)
                {
                    continue;
                }

                if (cookieName.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    found = true;
                    last = value;
                }
                else if (fallbackName is not null && cookieName.Equals(fallbackName, StringComparison.OrdinalIgnoreCase))
                {
                    foundFallback = true;
                    lastFallback = value;
                }
            }
        }

        return found ? Decode(last) : foundFallback ? Decode(lastFallback) : null;
    }
}
