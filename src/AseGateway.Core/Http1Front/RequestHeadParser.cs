using System.Buffers.Text;
using AseGateway.Forwarding.FastPath;

namespace AseGateway.Http1Front;

internal enum HeadParseResult : byte
{
    Complete,

    /// <summary>No end of head yet, and nothing so far the front would not take.</summary>
    Incomplete,

    /// <summary>Something the front leaves to Kestrel: its rules decide, and its error answers are sent.</summary>
    Unsupported,
}

/// <summary>Where a field's name and value lie in the head's bytes.</summary>
internal struct FieldRange
{
    public int NameStart;
    public int NameLength;
    public int ValueStart;
    public int ValueLength;
}

/// <summary>One request head as <see cref="RequestHeadParser"/> read it: ranges into the head's bytes. One per connection, reused.</summary>
internal sealed class RequestHead
{
    /// <summary>Kestrel's default <c>MaxRequestHeaderCount</c>: a head with more fields is Kestrel's to refuse.</summary>
    public const int MaxFields = 100;

    public readonly FieldRange[] Fields = new FieldRange[MaxFields];

    /// <summary>The method starts the head.</summary>
    public int MethodLength;

    public int TargetStart;

    public int TargetLength;

    /// <summary>The path's length within the target; the query (from its '?') is the rest.</summary>
    public int PathLength;

    public int FieldCount;

    /// <summary>The request line, the fields and the empty line.</summary>
    public int Length;

    /// <summary>A <c>Connection: close</c>: the connection ends after this request's response.</summary>
    public bool ConnectionClose;

    /// <summary>A <c>Connection: keep-alive</c>: what keeps an HTTP/1.0 connection open after the response.</summary>
    public bool KeepAliveOption;

    /// <summary>
    /// The request line said <c>HTTP/1.0</c> (read afresh with every head, unlike the fields): the connection ends after
    /// the response unless the client asked to keep it alive, and a response of unknown length is sent unframed, up to
    /// the close, since an HTTP/1.0 client reads no chunks (as Kestrel serves it).
    /// </summary>
    public bool Http10;

    /// <summary>Whether the connection ends after this request's response, as Kestrel decides it from the request.</summary>
    /// <remarks>
    /// Kestrel keeps a connection whose <c>Connection</c> field lists both options; the front closes it: either is a
    /// correct answer, and the client said close.
    /// </remarks>
    public bool CloseAfterResponse => ConnectionClose || (Http10 && !KeepAliveOption);

    /// <summary>
    /// The body's length from the head's one <c>Content-Length</c> (0 without it). Up to <see cref="MaxBody"/>, the
    /// front serves the request once the whole body has arrived behind its head (<see cref="FrontConnection"/>); a
    /// longer one is read as it arrives, while the request runs (<see cref="FrontRequestBody.ResetStreamed"/>).
    /// </summary>
    public long ContentLength;

    /// <summary>The head has a Content-Length field (<see cref="ContentLength"/> may be 0 with or without one).</summary>
    public bool HasContentLength;

    /// <summary>
    /// <c>Expect: 100-continue</c> with a sized body: the client may wait for an interim 100 before it sends the body,
    /// so the request starts at once and the 100 goes out when the application first waits for the body (as Kestrel
    /// sends it), unless its answer started first.
    /// </summary>
    public bool ExpectContinue;

    /// <summary>
    /// The body is framed by <c>Transfer-Encoding: chunked</c> alone (no Content-Length beside it); the connection
    /// reads it whole (<see cref="ChunkedBodyScanner"/>) before the request starts. Like <see cref="ContentLength"/>,
    /// the previous head's when the fields were repeated.
    /// </summary>
    public bool Chunked;

    /// <summary>
    /// The largest body the front reads whole before the request starts, as nginx keeps a body of up to its
    /// <c>client_body_buffer_size</c> in memory. Far below the transport's input buffer (1 MiB, where it stops
    /// reading), so head and body always fit in it. A longer sized body is streamed; a chunked one of more data is
    /// Kestrel's.
    /// </summary>
    public const int MaxBody = 64 * 1024;

    /// <summary>
    /// This head's fields are the previous head's, byte for byte: <see cref="Fields"/>, <see cref="FieldCount"/>,
    /// <see cref="ConnectionClose"/> and <see cref="ContentLength"/> are the previous head's (its ranges moved with the
    /// request line), and so are the strings the front made of them.
    /// </summary>
    public bool FieldsRepeated;

    /// <summary>
    /// A kept-alive client sends the same fields with every request (a browser's are about 1 KB, a load generator's
    /// never change). Identical bytes parse to identical fields, so the last head's field lines are kept to be
    /// compared with the next head's instead of parsed again; a longer block than this is parsed every time, so that an
    /// idle connection holds at most this much.
    /// </summary>
    public const int MaxRepeatedFieldBytes = 4096;

    private readonly Forwarding.RepeatedBlock _fieldLines = new(MaxRepeatedFieldBytes);
    private int _fieldsStart;

    /// <summary>
    /// True, with <see cref="FieldsRepeated"/> set and the ranges moved to <paramref name="fieldsStart"/>, when
    /// <paramref name="fields"/> (the field lines and the empty line) are the last complete head's.
    /// </summary>
    public bool TryRepeatFields(ReadOnlySpan<byte> fields, int fieldsStart)
    {
        if (!_fieldLines.Matches(fields))
        {
            // Parsed afresh: until that parse completes, the ranges are no longer the kept block's.
            FieldsRepeated = false;
            return false;
        }

        var shift = fieldsStart - _fieldsStart;
        if (shift != 0)
        {
            for (var i = 0; i < FieldCount; i++)
            {
                ref var field = ref Fields[i];
                field.NameStart += shift;
                field.ValueStart += shift;
            }

            _fieldsStart = fieldsStart;
        }

        FieldsRepeated = true;
        return true;
    }

    /// <summary>
    /// The head just parsed is not served yet (its body is still arriving): the strings of its fields are not made, so
    /// when it is parsed again with its body, it must be parsed whole rather than reuse the strings of the head before.
    /// </summary>
    public void ForgetFields()
    {
        _fieldLines.Forget();
        FieldsRepeated = false;
    }

    /// <summary>Keeps the field lines of a head just parsed whole, for <see cref="TryRepeatFields"/>.</summary>
    public void KeepFields(ReadOnlySpan<byte> fields, int fieldsStart)
    {
        _fieldLines.Keep(fields);
        _fieldsStart = fieldsStart;
    }
}

/// <summary>
/// Reads the HTTP/1.1 request heads the front serves itself: a strict subset of RFC 9112 that reads exactly as Kestrel
/// reads it. A request line <c>METHOD SP origin-form SP HTTP/1.1</c> (or <c>HTTP/1.0</c>, as ApacheBench and other
/// load generators send it, then with a Content-Length body or none) with an upper-case method and a target of
/// plain characters (no percent-encoding or dot segments in the path: Kestrel decodes and normalises those); fields
/// of token names and visible-ASCII values, CRLF line ends, one plain <c>Host</c>, no body or one framed by a single
/// <c>Content-Length</c> of plain digits or by <c>Transfer-Encoding: chunked</c>
/// alone (its chunks read by <see cref="ChunkedBodyScanner"/>), no <c>Expect</c> but <c>100-continue</c>
/// with a sized body, no <c>Upgrade</c> or <c>Connection</c> options beyond keep-alive and close.
/// Everything else is <see cref="HeadParseResult.Unsupported"/>: Kestrel reads it from the first byte, with the same
/// limits, errors and framing rules as on a listener without the front, so what a client can smuggle or break is
/// what Kestrel lets through, no more.
/// </summary>
internal static class RequestHeadParser
{
    /// <summary>A request line longer than this is Kestrel's (its <c>MaxRequestLineSize</c> is 8 KiB).</summary>
    public const int MaxRequestLine = 4096;

    private const byte Cr = (byte)'\r';
    private const byte Lf = (byte)'\n';

    // Bit flags of one table: which bytes may appear where.
    private const byte PathByte = 1;
    private const byte QueryByte = 2;
    private const byte HostByte = 4;

    private static readonly byte[] Classes = BuildClasses();

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    /// <summary>
    /// Reads a head from the start of <paramref name="buffer"/> into <paramref name="head"/>.
    /// </summary>
    /// <param name="maxHeadBytes">Beyond this, a head not yet complete is Kestrel's to judge against its limits.</param>
    public static HeadParseResult TryParse(ReadOnlySpan<byte> buffer, RequestHead head, int maxHeadBytes)
    {
        var end = buffer.IndexOf(HeadEnd);
        if (end < 0)
        {
            // A bare LF or CR ends a line for some parsers, and Kestrel refuses it, as it refuses a bad line, as soon as
            // the line is there: handed over at once, not waited on until the head times out.
            return buffer.Length >= maxHeadBytes || HasBareLineEnd(buffer) || HasRefusedLine(buffer, head)
                ? HeadParseResult.Unsupported
                : HeadParseResult.Incomplete;
        }

        var length = end + HeadEnd.Length;
        if (length > maxHeadBytes)
        {
            return HeadParseResult.Unsupported;
        }

        var lineEnd = buffer.IndexOf("\r\n"u8);
        if (lineEnd > MaxRequestLine || !TryParseRequestLine(buffer[..lineEnd], head))
        {
            return HeadParseResult.Unsupported;
        }

        head.Length = length;
        var fieldsStart = lineEnd + 2;
        var fields = buffer[fieldsStart..length];
        if (head.TryRepeatFields(fields, fieldsStart))
        {
            return FramingTheFrontReads(buffer, head);
        }

        head.FieldCount = 0;
        head.ConnectionClose = false;
        head.KeepAliveOption = false;
        head.ContentLength = 0;
        head.HasContentLength = false;
        head.ExpectContinue = false;
        head.Chunked = false;
        var framing = default(FramingFields);
        var position = fieldsStart;
        while (position < end + 2)
        {
            var line = buffer[position..];
            lineEnd = line.IndexOf("\r\n"u8);
            if (head.FieldCount == RequestHead.MaxFields || !TryParseField(line[..lineEnd], position, head, ref framing))
            {
                return HeadParseResult.Unsupported;
            }

            position += lineEnd + 2;
        }

        // Both framings at once is where two parsers may disagree about where the body ends: Kestrel's to refuse.
        if (framing.Hosts != 1 || (head.Chunked && framing.ContentLengths != 0))
        {
            return HeadParseResult.Unsupported;
        }

        head.HasContentLength = framing.ContentLengths != 0;
        head.KeepFields(fields, fieldsStart);
        return FramingTheFrontReads(buffer, head);
    }

    /// <summary>
    /// The framings the front reads, by version. <c>Expect: 100-continue</c> only with HTTP/1.1 and a sized body (a
    /// chunked one the front waits for whole, which a client waiting for the 100 would not send). Of HTTP/1.0, only the
    /// framings it has: a chunked request is Kestrel's (RFC 9112 §6.1: a server ought to treat it as faulty framing),
    /// and so is a POST or PUT without a Content-Length, which Kestrel refuses with a 400 (under HTTP/1.1 it reads them
    /// as bodiless). Checked after the fields, whether parsed or repeated: the version and the method come with each
    /// request line.
    /// </summary>
    private static HeadParseResult FramingTheFrontReads(ReadOnlySpan<byte> head, RequestHead parsed)
    {
        if (parsed.ExpectContinue && (parsed.Http10 || parsed.Chunked))
        {
            return HeadParseResult.Unsupported;
        }

        if (!parsed.Http10)
        {
            return HeadParseResult.Complete;
        }

        var method = head[..parsed.MethodLength];
        return parsed.Chunked || (!parsed.HasContentLength && (method.SequenceEqual("POST"u8) || method.SequenceEqual("PUT"u8)))
            ? HeadParseResult.Unsupported
            : HeadParseResult.Complete;
    }

    /// <summary>
    /// An LF without a CR before it, or a CR followed by anything but an LF (a CR at the very end may yet be followed by
    /// one): lines some parsers end there, and Kestrel refuses at once.
    /// </summary>
    private static bool HasBareLineEnd(ReadOnlySpan<byte> buffer)
    {
        var at = buffer.IndexOfAny(Cr, Lf);
        while (at >= 0)
        {
            var bare = buffer[at] == Lf
                ? at == 0 || buffer[at - 1] != Cr
                : at + 1 < buffer.Length && buffer[at + 1] != Lf;
            if (bare)
            {
                return true;
            }

            var next = buffer[(at + 1)..].IndexOfAny(Cr, Lf);
            at = next < 0 ? -1 : at + 1 + next;
        }

        return false;
    }

    /// <summary>
    /// A complete line of a head still arriving that the full parse would not take: a request line it does not read,
    /// or a field line without a token name and a colon, or with a value of other than visible ASCII, spaces and tabs.
    /// Checked without touching the head's fields, which may still be the last head's (<see cref="RequestHead.TryRepeatFields"/>).
    /// </summary>
    private static bool HasRefusedLine(ReadOnlySpan<byte> buffer, RequestHead head)
    {
        var lineEnd = buffer.IndexOf("\r\n"u8);
        if (lineEnd < 0)
        {
            return false;
        }

        if (lineEnd > MaxRequestLine || !TryParseRequestLine(buffer[..lineEnd], head))
        {
            return true;
        }

        for (var rest = buffer[(lineEnd + 2)..]; (lineEnd = rest.IndexOf("\r\n"u8)) >= 0; rest = rest[(lineEnd + 2)..])
        {
            if (PlainFieldColon(rest[..lineEnd]) < 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Where the colon of a field line of a token name and a value of visible ASCII, spaces and tabs is; -1 for any
    /// other line: no name, a space before the colon, a folded continuation line, a control character or obs-text in
    /// the value (Kestrel refuses non-ASCII values). Kestrel's to refuse, all of them.
    /// </summary>
    private static int PlainFieldColon(ReadOnlySpan<byte> line)
    {
        var colon = line.IndexOf((byte)':');
        return colon <= 0 || line[..colon].ContainsAnyExcept(ResponseHeadParser.TokenBytes) || line[(colon + 1)..].ContainsAnyExcept(ResponseHeadParser.ValueBytes)
            ? -1
            : colon;
    }

    private static bool TryParseRequestLine(ReadOnlySpan<byte> line, RequestHead head)
    {
        var method = 0;
        while (method < line.Length && line[method] is >= (byte)'A' and <= (byte)'Z')
        {
            method++;
        }

        // CONNECT has an authority for a target; its absence from the subset is also what the '/' below checks.
        if (method == 0 || method > 20 || method >= line.Length || line[method] != (byte)' ')
        {
            return false;
        }

        var targetStart = method + 1;
        var rest = line[targetStart..];
        var targetLength = rest.IndexOf((byte)' ');
        var version = rest[(targetLength + 1)..];
        if (targetLength <= 0 || rest[0] != (byte)'/' || version.Length != 8 || !version.StartsWith("HTTP/1."u8) || version[7] is not ((byte)'1' or (byte)'0'))
        {
            return false;
        }

        var target = rest[..targetLength];
        var pathLength = target.IndexOf((byte)'?');
        if (pathLength < 0)
        {
            pathLength = targetLength;
        }

        if (!IsPlainPath(target[..pathLength]) || !AllOfClass(target[pathLength..], QueryByte))
        {
            return false;
        }

        head.MethodLength = method;
        head.TargetStart = targetStart;
        head.TargetLength = targetLength;
        head.PathLength = pathLength;
        head.Http10 = version[7] == (byte)'0';
        return true;
    }

    /// <summary>Plain path characters and no dot segment ("/." or "/.." ending a segment), which Kestrel would remove.</summary>
    private static bool IsPlainPath(ReadOnlySpan<byte> path)
    {
        if (!AllOfClass(path, PathByte))
        {
            return false;
        }

        for (var slash = 0; slash < path.Length; slash++)
        {
            if (path[slash] != (byte)'/' || slash + 1 == path.Length || path[slash + 1] != (byte)'.')
            {
                continue;
            }

            var after = slash + 2;
            if (after < path.Length && path[after] == (byte)'.')
            {
                after++;
            }

            if (after == path.Length || path[after] == (byte)'/')
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryParseField(ReadOnlySpan<byte> line, int lineStart, RequestHead head, ref FramingFields framing)
    {
        var colon = PlainFieldColon(line);
        if (colon < 0)
        {
            return false;
        }

        var valueStart = colon + 1;
        while (valueStart < line.Length && line[valueStart] is (byte)' ' or (byte)'\t')
        {
            valueStart++;
        }

        var valueEnd = line.Length;
        while (valueEnd > valueStart && line[valueEnd - 1] is (byte)' ' or (byte)'\t')
        {
            valueEnd--;
        }

        var name = line[..colon];
        var value = line[valueStart..valueEnd];
        if (!TryNoteSpecialField(name, value, head, ref framing))
        {
            return false;
        }

        ref var field = ref head.Fields[head.FieldCount++];
        field.NameStart = lineStart;
        field.NameLength = colon;
        field.ValueStart = lineStart + valueStart;
        field.ValueLength = value.Length;
        return true;
    }

    /// <summary>The fields whose presence or value changes how the request is framed or served.</summary>
    private static bool TryNoteSpecialField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, RequestHead head, ref FramingFields framing)
    {
        switch (name.Length)
        {
            case 4 when System.Text.Ascii.EqualsIgnoreCase(name, "host"u8):
                framing.Hosts++;
                return IsPlainHost(value);
            case 14 when System.Text.Ascii.EqualsIgnoreCase(name, "content-length"u8):
                // A second one, even equal, is Kestrel's to refuse: where two parsers may disagree, a request is smuggled.
                return ++framing.ContentLengths == 1 && TryReadContentLength(value, head);
            case 17 when System.Text.Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8):
                // "chunked" alone, once; a list, another coding or a second field is Kestrel's.
                head.Chunked = ++framing.TransferEncodings == 1 && System.Text.Ascii.EqualsIgnoreCase(value, "chunked"u8);
                return head.Chunked;
            case 6 when System.Text.Ascii.EqualsIgnoreCase(name, "expect"u8):
                // "100-continue", once; any other expectation is Kestrel's (it ignores them, the front need not).
                head.ExpectContinue = ++framing.Expects == 1 && System.Text.Ascii.EqualsIgnoreCase(value, "100-continue"u8);
                return head.ExpectContinue;
            case 7 when System.Text.Ascii.EqualsIgnoreCase(name, "upgrade"u8):
            case 13 when System.Text.Ascii.EqualsIgnoreCase(name, "http2-settings"u8):
                return false;
            case 10 when System.Text.Ascii.EqualsIgnoreCase(name, "connection"u8):
                return TryReadConnectionOptions(value, head);
            default:
                return true;
        }
    }

    /// <summary>
    /// Plain digits (RFC 9110 §8.6: no sign, no spaces inside, no list), at most 15 of them (under a petabyte; the
    /// largest <c>maxRequestBodySizeInMb</c> is about 100 GB); any other spelling is Kestrel's. So is a length above
    /// the listener's limit, which <see cref="FrontConnection"/> checks: Kestrel answers it with a 413.
    /// </summary>
    private static bool TryReadContentLength(ReadOnlySpan<byte> value, RequestHead head)
    {
        if (value.IsEmpty || value.Length > 15 || value.ContainsAnyExceptInRange((byte)'0', (byte)'9')
            || !Utf8Parser.TryParse(value, out long length, out _))
        {
            return false;
        }

        head.ContentLength = length;
        return true;
    }

    /// <summary>How many of the fields that frame the request the head had so far.</summary>
    private struct FramingFields
    {
        public int Hosts;
        public int ContentLengths;
        public int TransferEncodings;
        public int Expects;
    }

    /// <summary>A registered name or IPv4 address with an optional port; anything else (IPv6 literals, user info) is Kestrel's.</summary>
    private static bool IsPlainHost(ReadOnlySpan<byte> value)
    {
        var colon = value.IndexOf((byte)':');
        var name = colon < 0 ? value : value[..colon];
        if (name.IsEmpty || !AllOfClass(name, HostByte))
        {
            return false;
        }

        if (colon < 0)
        {
            return true;
        }

        var port = value[(colon + 1)..];
        return !port.IsEmpty && port.Length <= 5 && !port.ContainsAnyExceptInRange((byte)'0', (byte)'9');
    }

    /// <summary>Only <c>keep-alive</c> and <c>close</c>; other options (Upgrade, TE, ...) leave the request to Kestrel.</summary>
    private static bool TryReadConnectionOptions(ReadOnlySpan<byte> value, RequestHead head)
    {
        foreach (var range in value.Split((byte)','))
        {
            var option = value[range].Trim(" \t"u8);
            if (System.Text.Ascii.EqualsIgnoreCase(option, "close"u8))
            {
                head.ConnectionClose = true;
            }
            else if (System.Text.Ascii.EqualsIgnoreCase(option, "keep-alive"u8))
            {
                head.KeepAliveOption = true;
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    private static bool AllOfClass(ReadOnlySpan<byte> bytes, byte @class)
    {
        foreach (var b in bytes)
        {
            if ((Classes[b] & @class) == 0)
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] BuildClasses()
    {
        var classes = new byte[256];
        for (var b = 0; b < 128; b++)
        {
            var c = (char)b;
            var alphaNumeric = char.IsAsciiLetterOrDigit(c);
            var unreserved = alphaNumeric || c is '-' or '.' or '_' or '~';

            // RFC 3986 pchar without pct-encoded, and '/'.
            var path = unreserved || c is '!' or '$' or '&' or '\'' or '(' or ')' or '*' or '+' or ',' or ';' or '=' or ':' or '@' or '/';
            var query = path || c is '?' or '%';
            classes[b] = (byte)((path ? PathByte : 0) | (query ? QueryByte : 0) | (unreserved ? HostByte : 0));
        }

        return classes;
    }
}
