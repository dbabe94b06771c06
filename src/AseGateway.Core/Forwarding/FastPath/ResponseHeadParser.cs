using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// A strict HTTP/1.1 response-head parser (RFC 9112 §4-§6). Anything a lenient parser might read differently from
/// the worker or from the next hop is refused, the response becomes a 502 and the connection is closed: bare CR or LF
/// line ends, obs-fold continuation lines, whitespace before a colon, control characters or obs-text in values,
/// differing or malformed Content-Length values, Transfer-Encoding other than exactly <c>chunked</c>, and both
/// Transfer-Encoding and Content-Length (RFC 9112 §6.3: "ought to be handled as an error" — a smuggling sign).
/// </summary>
internal static class ResponseHeadParser
{
    /// <summary>The whole head, status line to blank line; HttpClient's default MaxResponseHeadersLength (64 KB).</summary>
    public const int MaxHeadBytes = 64 * 1024;

    // tchar (RFC 9110 §5.6.2); the request parser of the HTTP/1.1 front reads names with it too.
    internal static readonly SearchValues<byte> TokenBytes = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // field-vchar and SP/HTAB without obs-text: Kestrel refuses non-ASCII response header values anyway.
    internal static readonly SearchValues<byte> ValueBytes = SearchValues.Create(BuildValueBytes());

    // Common names as Kestrel and HttpClient spell them: no string is allocated for these.
    private static readonly string[] KnownNames =
    [
        "Content-Length", "Content-Type", "Date", "Server", "Transfer-Encoding", "Connection", "Keep-Alive",
        "Cache-Control", "Set-Cookie", "ETag", "Last-Modified", "Location", "Vary", "Content-Encoding", "Expires",
        "Accept-Ranges", "Content-Range", "Content-Disposition", "Content-Language", "Pragma", "Age", "Trailer",
        "Strict-Transport-Security", "X-Powered-By", "Access-Control-Allow-Origin", "Upgrade", "Proxy-Authenticate",
    ];

    // Which known names the forwarded response leaves out (RequestHeadWriter.HopByHop), decided once.
    private static readonly bool[] KnownHopByHop = Array.ConvertAll(KnownNames, RequestHeadWriter.HopByHop.Contains);

    /// <summary>
    /// <see cref="TryParse(ReadOnlySpan{byte}, bool, ResponseHead, out int)"/> for what a pipe read returned: in place
    /// when it is one segment, else on a copy of at most a head's length.
    /// </summary>
    public static HeadParseResult TryParse(in ReadOnlySequence<byte> buffer, bool requestIsHead, ResponseHead head, out int consumed)
    {
        if (buffer.IsSingleSegment)
        {
            return TryParse(buffer.FirstSpan, requestIsHead, head, out consumed);
        }

        var length = (int)Math.Min(buffer.Length, MaxHeadBytes + 4);
        var copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            buffer.Slice(0, length).CopyTo(copy);
            return TryParse(copy.AsSpan(0, length), requestIsHead, head, out consumed);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <summary>Parses one head at the start of <paramref name="buffer"/>.</summary>
    /// <param name="requestIsHead">The request was HEAD: no body follows whatever the head says (RFC 9110 §9.3.2).</param>
    /// <param name="consumed">The head's length with its blank line, when complete.</param>
    public static HeadParseResult TryParse(ReadOnlySpan<byte> buffer, bool requestIsHead, ResponseHead head, out int consumed)
    {
        consumed = 0;
        var end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (HasBareLineEnd(buffer))
            {
                return Invalid(head, "a bare CR or LF in the response head");
            }

            return buffer.Length >= MaxHeadBytes ? Invalid(head, "a response head over 64 KB") : HeadParseResult.Incomplete;
        }

        if (end + 4 > MaxHeadBytes)
        {
            return Invalid(head, "a response head over 64 KB");
        }

        var block = buffer[..(end + 2)];
        if (head.TryRepeat(block))
        {
            consumed = end + 4;
            return DecideFraming(head, requestIsHead) ? HeadParseResult.Complete : HeadParseResult.Invalid;
        }

        head.Reset();
        var lineEnd = block.IndexOf("\r\n"u8);
        if (!ParseStatusLine(block[..lineEnd], head))
        {
            return HeadParseResult.Invalid;
        }

        var rest = block[(lineEnd + 2)..];
        var seenKnown = 0UL;
        while (!rest.IsEmpty)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            if (!TryParseField(rest[..lineEnd], out var name, out var known, out var raw, out var error))
            {
                head.Error = error;
                return HeadParseResult.Invalid;
            }

            var value = head.ValueString(name, raw);
            if (!NoteFraming(name, value, head))
            {
                return HeadParseResult.Invalid;
            }

            // A known name seen first and not hop-by-hop can be copied to the client without looking it up: ApplyHead.
            var index = head.Fields.Count;
            if (known >= 0 && !KnownHopByHop[known] && (seenKnown & (1UL << known)) == 0 && index < 64)
            {
                head.PlainFields |= 1UL << index;
            }

            seenKnown |= known >= 0 ? 1UL << known : 0;
            head.Fields.Add(new KeyValuePair<string, string>(name, value));
            rest = rest[(lineEnd + 2)..];
        }

        if (!DecideFraming(head, requestIsHead))
        {
            return HeadParseResult.Invalid;
        }

        head.Keep(block);
        consumed = end + 4;
        return HeadParseResult.Complete;
    }

    /// <summary>
    /// One field line without its CRLF (a header or a chunked trailer): <c>token ":" OWS value OWS</c>, nothing else.
    /// </summary>
    public static bool TryParseField(ReadOnlySpan<byte> line, out string name, out ReadOnlySpan<byte> value, out string? error) =>
        TryParseField(line, out name, out _, out value, out error);

    /// <param name="known">The name's index among the common names, or -1 when it is not one of them.</param>
    private static bool TryParseField(ReadOnlySpan<byte> line, out string name, out int known, out ReadOnlySpan<byte> value, out string? error)
    {
        name = string.Empty;
        known = -1;
        value = default;
        if (line.IsEmpty || line[0] is (byte)' ' or (byte)'\t')
        {
            error = "an obs-fold continuation line";
            return false;
        }

        var colon = line.IndexOf((byte)':');
        if (colon <= 0 || line[..colon].ContainsAnyExcept(TokenBytes))
        {
            error = "a field name that is not a token (or whitespace before the colon)";
            return false;
        }

        var raw = line[(colon + 1)..].Trim(" \t"u8);
        if (raw.ContainsAnyExcept(ValueBytes))
        {
            error = "a control character, CR, LF or non-ASCII byte in a field value";
            return false;
        }

        name = NameString(line[..colon], out known);
        value = raw;
        error = null;
        return true;
    }

    /// <summary>A LF not preceded by CR, or a CR followed by anything but LF (a CR at the very end may still be completed).</summary>
    internal static bool HasBareLineEnd(ReadOnlySpan<byte> buffer)
    {
        var offset = 0;
        while (true)
        {
            var at = buffer[offset..].IndexOfAny((byte)'\r', (byte)'\n');
            if (at < 0)
            {
                return false;
            }

            at += offset;
            if (buffer[at] == (byte)'\n' || (at + 1 < buffer.Length && buffer[at + 1] != (byte)'\n'))
            {
                return true;
            }

            offset = at + 2;
            if (offset >= buffer.Length)
            {
                return false;
            }
        }
    }

    private static bool ParseStatusLine(ReadOnlySpan<byte> line, ResponseHead head)
    {
        // HTTP-version SP 3DIGIT [ SP reason-phrase ]; "HTTP/1.1 200" without the second space is accepted as
        // HttpClient does. Only HTTP/1.0 and HTTP/1.1: anything else is not what was asked for.
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[7] is not ((byte)'0' or (byte)'1') || line[8] != (byte)' '
            || !char.IsAsciiDigit((char)line[9]) || !char.IsAsciiDigit((char)line[10]) || !char.IsAsciiDigit((char)line[11])
            || (line.Length > 12 && line[12] != (byte)' '))
        {
            return Fail(head, "a malformed status line");
        }

        head.IsHttp10 = line[7] == (byte)'0';
        head.StatusCode = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        if (head.StatusCode < 100)
        {
            return Fail(head, "a status code below 100");
        }

        var reason = line.Length > 12 ? line[13..] : [];
        if (reason.ContainsAnyExcept(ValueBytes))
        {
            return Fail(head, "a control character or non-ASCII byte in the reason phrase");
        }

        // As YARP: the worker's phrase is passed on only when it is not the standard one.
        var standard = ReasonPhrases.GetReasonPhrase(head.StatusCode);
        head.ReasonPhrase = System.Text.Ascii.Equals(reason, standard) ? null : Encoding.ASCII.GetString(reason);
        return true;
    }

    private static bool NoteFraming(string name, string value, ResponseHead head)
    {
        if (ReferenceEquals(name, "Content-Length") || string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
        {
            // 1*DIGIT only: no sign, no list ("5, 5"), at most 18 digits so it cannot overflow.
            if (value.Length is 0 or > 18 || value.AsSpan().ContainsAnyExceptInRange('0', '9'))
            {
                return Fail(head, "a malformed Content-Length");
            }

            var length = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            if (head.ContentLength >= 0 && head.ContentLength != length)
            {
                return Fail(head, "conflicting Content-Length values");
            }

            head.ContentLength = length;
        }
        else if (ReferenceEquals(name, "Transfer-Encoding") || string.Equals(name, "Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
        {
            // Only a single "chunked": any other coding would have to be decoded to find the body's end.
            if (head.HasTransferEncoding || !string.Equals(value, "chunked", StringComparison.OrdinalIgnoreCase))
            {
                return Fail(head, "a Transfer-Encoding other than a single 'chunked'");
            }

            head.HasTransferEncoding = true;
        }
        else if (ReferenceEquals(name, "Connection") || string.Equals(name, "Connection", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var range in value.AsSpan().Split(','))
            {
                if (value.AsSpan()[range].Trim(" \t").Equals("close", StringComparison.OrdinalIgnoreCase))
                {
                    head.ConnectionClose = true;
                }
            }
        }

        return true;
    }

    private static bool DecideFraming(ResponseHead head, bool requestIsHead)
    {
        if (head.HasTransferEncoding && head.ContentLength >= 0)
        {
            return Fail(head, "both Transfer-Encoding and Content-Length");
        }

        if (head.StatusCode == 101)
        {
            // Never asked for (Upgrade requests go through YARP): a worker switching protocols here is broken.
            return Fail(head, "an unrequested 101 Switching Protocols");
        }

        head.Framing = head.IsInterim || requestIsHead || head.StatusCode is 204 or 304 ? ResponseFraming.NoBody
            : head.HasTransferEncoding ? ResponseFraming.Chunked
            : head.ContentLength >= 0 ? ResponseFraming.ContentLength
            : ResponseFraming.UntilClose;
        return true;
    }

    private static string NameString(ReadOnlySpan<byte> name, out int known)
    {
        for (known = 0; known < KnownNames.Length; known++)
        {
            if (name.Length == KnownNames[known].Length && System.Text.Ascii.EqualsIgnoreCase(name, KnownNames[known]))
            {
                return KnownNames[known];
            }
        }

        known = -1;
        return Encoding.ASCII.GetString(name);
    }

    private static HeadParseResult Invalid(ResponseHead head, string error)
    {
        head.Error = error;
        return HeadParseResult.Invalid;
    }

    private static bool Fail(ResponseHead head, string error)
    {
        head.Error = error;
        return false;
    }

    private static byte[] BuildValueBytes()
    {
        var bytes = new List<byte> { (byte)'\t' };
        for (var b = 0x20; b <= 0x7E; b++)
        {
            bytes.Add((byte)b);
        }

        return [.. bytes];
    }
}
