using System.Buffers;
using System.Text;
using AseGateway.Http1Front;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// Where the front finds a chunked body's end: only in the plainest framing, whole or in any pieces; everything else is
/// Kestrel's, and a body not all there yet is waited for unless it is already past what the front takes.
/// </summary>
public sealed class ChunkedBodyScannerTests
{
    [Theory]
    [InlineData("0\r\n\r\n", "")]
    [InlineData("5\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n", "hello, world")]
    [InlineData("0005\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n", "hello0123456789")]
    [InlineData("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hello")] // the next request's bytes are not the body's
    public void PlainFraming_IsComplete_AtItsLastChunk_InAnyPieces(string framed, string data)
    {
        var end = framed.IndexOf("0\r\n\r\n", StringComparison.Ordinal) + 5;
        for (var cut = 0; cut <= framed.Length; cut++)
        {
            var body = InTwoSegments(framed, cut);
            Assert.Equal(HeadParseResult.Complete, ChunkedBodyScanner.Scan(body, out var wire, out var length));
            Assert.Equal(end, wire);
            Assert.Equal(data.Length, length);
            var copy = new byte[length];
            ChunkedBodyScanner.CopyData(body.Slice(0, wire), copy);
            Assert.Equal(data, Encoding.ASCII.GetString(copy));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5\r")]
    [InlineData("5\r\nhel")]
    [InlineData("5\r\nhello")]
    [InlineData("5\r\nhello\r")]
    [InlineData("5\r\nhello\r\n0\r\n")]
    [InlineData("5\r\nhello\r\n0\r\n\r")]
    public void StartOfPlainFraming_IsWaitedFor(string framed) =>
        Assert.Equal(HeadParseResult.Incomplete, ChunkedBodyScanner.Scan(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(framed)), out _, out _));

    [Theory]
    [InlineData("5;ext=1\r\nhello\r\n0\r\n\r\n", "an extension")]
    [InlineData("5 \r\nhello\r\n0\r\n\r\n", "whitespace after the size")]
    [InlineData(" 5\r\nhello\r\n0\r\n\r\n", "whitespace before the size")]
    [InlineData("+5\r\nhello\r\n0\r\n\r\n", "a sign")]
    [InlineData("0x5\r\nhello\r\n0\r\n\r\n", "a 0x prefix")]
    [InlineData("5\nhello\r\n0\r\n\r\n", "a bare LF after the size")]
    [InlineData("5\r\nhello\n0\r\n\r\n", "a bare LF after the data")]
    [InlineData("5\r\nhelloX\r\n0\r\n\r\n", "data longer than its size")]
    [InlineData("5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", "a trailer field")]
    [InlineData("\r\nhello\r\n0\r\n\r\n", "no size")]
    [InlineData("000005\r\nhello\r\n0\r\n\r\n", "six digits")]
    [InlineData("10001\r\n", "a chunk past 64 KiB")]
    [InlineData("8000\r\n", "two chunks past 64 KiB, the second")]
    public void AnythingElse_IsKestrels(string framed, string what)
    {
        if (what.EndsWith("the second", StringComparison.Ordinal))
        {
            framed = "8001\r\n" + new string('a', 0x8001) + "\r\n" + framed;
        }

        Assert.True(ChunkedBodyScanner.Scan(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(framed)), out _, out _) == HeadParseResult.Unsupported, what);
    }

    [Fact]
    public void TinyChunks_PastWhatTheFrontWaitsFor_AreKestrels()
    {
        // A one-byte chunk is six bytes on the wire: 120,000 of them are 20,000 bytes of data, and not waited on further.
        var framed = new StringBuilder();
        for (var i = 0; i < 20_000; i++)
        {
            framed.Append("1\r\na\r\n");
        }

        Assert.Equal(HeadParseResult.Unsupported, ChunkedBodyScanner.Scan(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(framed.ToString())), out _, out _));
    }

    private static ReadOnlySequence<byte> InTwoSegments(string text, int cut)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        if (cut == 0 || cut == bytes.Length)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes.AsMemory(0, cut));
        var last = first.Append(bytes.AsMemory(cut));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
