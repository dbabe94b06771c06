using System.Buffers;
using System.Text;
using AseGateway.Forwarding.FastPath;

namespace AseGateway.Tests.Forwarding.FastPath;

/// <summary>The fast path's response-head parser and chunked decoder on their own: what they accept and refuse.</summary>
public sealed class ResponseParsingTests
{
    [Fact]
    public void TryParse_ContentLengthResponse_ReadsStatusFieldsAndFraming()
    {
        var head = new ResponseHead();
        var raw = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nX-Custom:  spaced value \r\n\r\nHello, World!"u8;

        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(raw, requestIsHead: false, head, out var consumed));

        Assert.Equal(raw.Length - 13, consumed);
        Assert.Equal(200, head.StatusCode);
        Assert.Null(head.ReasonPhrase);
        Assert.Equal(ResponseFraming.ContentLength, head.Framing);
        Assert.Equal(13, head.ContentLength);
        Assert.True(head.KeepAlive);
        Assert.Equal([new("Content-Length", "13"), new("Content-Type", "text/plain"), new("X-Custom", "spaced value")], head.Fields);
    }

    [Fact]
    public void TryParse_MarksFirstCommonNamesThatAreNotHopByHop_AsPlain()
    {
        var head = new ResponseHead();
        var raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Custom: a\r\nSet-Cookie: a=1\r\nKeep-Alive: timeout=5\r\nset-cookie: b=2\r\nDate: x\r\n\r\nok"u8;

        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(raw, requestIsHead: false, head, out _));

        // Content-Length (0), Set-Cookie's first (2) and Date (5); not the unknown name, the hop-by-hop one, the repeat.
        Assert.Equal(0b100101UL, head.PlainFields);
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse("HTTP/1.1 200 OK\r\nX-Custom: a\r\nContent-Length: 0\r\n\r\n"u8, requestIsHead: false, head, out _));
        Assert.Equal(0b10UL, head.PlainFields);
    }

    [Fact]
    public void TryParse_RepeatedHead_IsTheSameParse_WithTheFramingDecidedAgain()
    {
        var head = new ResponseHead();
        var raw = Encoding.ASCII.GetBytes("HTTP/1.1 201 Made\r\nContent-Length: 2\r\nServer: w\r\nConnection: close\r\n\r\nok");
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(raw, requestIsHead: false, head, out var first));
        var fields = head.Fields.ToArray();

        // The same bytes again (a worker's next answer in the same second): the same status, reason, fields, their
        // very strings, length and close; the framing follows this request (HEAD has no body).
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(raw, requestIsHead: true, head, out var again));
        Assert.Equal(first, again);
        Assert.Equal((201, "Made", 2L, false), (head.StatusCode, head.ReasonPhrase, head.ContentLength, head.KeepAlive));
        Assert.Equal(ResponseFraming.NoBody, head.Framing);
        Assert.Equal(fields, head.Fields);
        Assert.Same(fields[1].Value, head.Fields[1].Value);
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(raw, requestIsHead: false, head, out _));
        Assert.Equal(ResponseFraming.ContentLength, head.Framing);

        // One byte apart: parsed afresh.
        var longer = Encoding.ASCII.GetBytes("HTTP/1.1 201 Made\r\nContent-Length: 3\r\nServer: w\r\nConnection: close\r\n\r\nok!");
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(longer, requestIsHead: false, head, out _));
        Assert.Equal(3, head.ContentLength);
        Assert.Equal(new KeyValuePair<string, string>("Content-Length", "3"), head.Fields[0]);
    }

    [Fact]
    public void TryParse_AfterAnInvalidHead_TheKeptHeadIsParsedAfresh()
    {
        // The invalid head left the parse state half-written: the block kept before it must not stand for it any more.
        var head = new ResponseHead();
        var good = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n");
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(good, requestIsHead: false, head, out _));
        Assert.Equal(HeadParseResult.Invalid, ResponseHeadParser.TryParse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Length: 8\r\n\r\n"u8, requestIsHead: false, head, out _));

        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(good, requestIsHead: false, head, out _));
        Assert.Null(head.Error);
        Assert.Equal(2, head.ContentLength);
        Assert.Equal([new("Content-Length", "2"), new("X-A", "1")], head.Fields);
    }

    [Fact]
    public void TryParse_HeadLongerThanTheKeptSize_IsParsedEveryTime()
    {
        var head = new ResponseHead();
        var cookie = new string('c', ResponseHead.MaxRepeatedHeadBytes);
        var first = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: {cookie}\r\n\r\n");
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(first, requestIsHead: false, head, out _));
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(first, requestIsHead: false, head, out _));
        Assert.Equal(cookie, head.Fields[1].Value);

        var other = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(other, requestIsHead: false, head, out _));
        Assert.Equal((404, 1), (head.StatusCode, head.Fields.Count));
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", true)]
    [InlineData("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", false)]
    public void TryParse_StatusOrMethodWithoutBody_HasNoBody(string raw, bool requestIsHead)
    {
        var head = new ResponseHead();

        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(Encoding.ASCII.GetBytes(raw), requestIsHead, head, out _));

        Assert.Equal(ResponseFraming.NoBody, head.Framing);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", "UntilClose", false)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", "Chunked", true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, close\r\n\r\n", "ContentLength", false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "ContentLength", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "ContentLength", true)]
    public void TryParse_Framing_DecidesBodyEndAndReuse(string raw, string framing, bool keepAlive)
    {
        var head = new ResponseHead();

        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(Encoding.ASCII.GetBytes(raw), requestIsHead: false, head, out _));

        Assert.Equal(Enum.Parse<ResponseFraming>(framing), head.Framing);
        Assert.Equal(keepAlive, head.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n folded\r\n\r\n", "obs-fold")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\n", "bare LF after the status line")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\n\r\n", "bare LF after a field")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\n\r\n", "bare CR inside a field")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", "space before the colon")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "Content-Length list")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", "signed Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "overflowing Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "both Transfer-Encoding and Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "a coding other than chunked")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked twice")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u0001b\r\n\r\n", "control character in a value")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: caf\u00e9\r\n\r\n", "obs-text in a value")]
    [InlineData("HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n", "space in a name")]
    [InlineData("HTTP/2.0 200 OK\r\n\r\n", "not HTTP/1.x")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n", "two-digit status")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n", "status below 100")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "unrequested 101")]
    public void TryParse_Malformed_IsInvalid(string raw, string what)
    {
        var head = new ResponseHead();

        Assert.True(HeadParseResult.Invalid == ResponseHeadParser.TryParse(Encoding.Latin1.GetBytes(raw), requestIsHead: false, head, out _), what);
        Assert.NotNull(head.Error);
    }

    [Fact]
    public void TryParse_PartialHead_IsIncompleteUntilTheBlankLine()
    {
        var head = new ResponseHead();
        var raw = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8;

        for (var length = 0; length < raw.Length; length++)
        {
            Assert.Equal(HeadParseResult.Incomplete, ResponseHeadParser.TryParse(raw[..length], requestIsHead: false, head, out _));
        }

        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse(raw, requestIsHead: false, head, out _));
    }

    [Fact]
    public void TryParse_HeadOver64Kb_IsInvalid()
    {
        var head = new ResponseHead();
        var raw = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nX-Big: " + new string('a', ResponseHeadParser.MaxHeadBytes) + "\r\n\r\n");

        Assert.Equal(HeadParseResult.Invalid, ResponseHeadParser.TryParse(raw, requestIsHead: false, head, out _));
        Assert.Equal(HeadParseResult.Invalid, ResponseHeadParser.TryParse(raw.AsSpan(0, ResponseHeadParser.MaxHeadBytes), requestIsHead: false, head, out _));
    }

    [Fact]
    public void TryParse_NonStandardReason_IsKept()
    {
        var head = new ResponseHead();

        Assert.Equal(HeadParseResult.Complete, ResponseHeadParser.TryParse("HTTP/1.1 404 Nothing Here\r\n\r\n"u8, requestIsHead: false, head, out _));

        Assert.Equal("Nothing Here", head.ReasonPhrase);
    }

    [Fact]
    public void Decode_ExtensionsAndTrailers_ByteByByte_YieldsBodyAndTrailers()
    {
        var raw = "5;name=value;quoted=\"a b\"\r\nHello\r\n8 ; ext\r\n, World!\r\n0\r\nX-Checksum: abc\r\n\r\n"u8.ToArray();
        var decoder = new ChunkedDecoder();
        decoder.Reset();
        var output = new ArrayBufferWriter<byte>();
        var pending = new List<byte>();
        var result = ChunkedResult.NeedMoreData;
        foreach (var b in raw)
        {
            Assert.Equal(ChunkedResult.NeedMoreData, result);
            pending.Add(b);
            var sequence = new ReadOnlySequence<byte>(pending.ToArray());
            result = decoder.Decode(sequence, output, out var consumed);
            pending.RemoveRange(0, (int)sequence.Slice(0, consumed).Length);
        }

        Assert.Equal(ChunkedResult.Done, result);
        Assert.Equal("Hello, World!", Encoding.ASCII.GetString(output.WrittenSpan));
        Assert.Equal([new("X-Checksum", "abc")], decoder.Trailers);
    }

    [Theory]
    [InlineData("-5\r\nHello\r\n0\r\n\r\n", "negative size")]
    [InlineData("0x5\r\nHello\r\n0\r\n\r\n", "0x prefix")]
    [InlineData(" 5\r\nHello\r\n0\r\n\r\n", "leading space")]
    [InlineData("1000000000000000\r\n", "16 hex digits")]
    [InlineData("5\r\nHelloX\r\n0\r\n\r\n", "data longer than its size")]
    [InlineData("5\nHello\r\n0\r\n\r\n", "bare LF after the size")]
    [InlineData("5;a\u0001b\r\nHello\r\n0\r\n\r\n", "control character in an extension")]
    [InlineData("5 x\r\nHello\r\n0\r\n\r\n", "garbage after the size")]
    [InlineData("5\r\nHello\r\n0\r\nX-A : 1\r\n\r\n", "malformed trailer")]
    [InlineData("\r\nHello\r\n0\r\n\r\n", "empty size")]
    public void Decode_Malformed_IsInvalid(string raw, string what)
    {
        var decoder = new ChunkedDecoder();
        decoder.Reset();

        var result = decoder.Decode(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(raw)), new ArrayBufferWriter<byte>(), out _);

        Assert.True(result == ChunkedResult.Invalid, what);
        Assert.NotNull(decoder.Error);
    }
}
