using System.Buffers;
using System.Text;
using AseGateway.Forwarding.FastPath;
using BenchmarkDotNet.Attributes;

namespace AseGateway.Benchmarks;

/// <summary>
/// The fast path's per-response parsing: a Kestrel worker's typical head (the perf backend's) as it repeats on a
/// kept-alive connection within a second and as it changes (its Date, every other call), a larger head with cookies
/// and caching fields, and a chunked body with an extension and a trailer decoded into a reused buffer.
/// </summary>
[MemoryDiagnoser]
public class ResponseHeadParserBenchmarks
{
    private readonly ResponseHead _head = new();
    private readonly ChunkedDecoder _chunked = new();
    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private byte[] _small = [];
    private byte[] _smallNextSecond = [];
    private bool _odd;
    private byte[] _large = [];
    private ReadOnlySequence<byte> _chunkedBody;

    [GlobalSetup]
    public void Setup()
    {
        _small = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nDate: Mon, 30 Nov 2026 03:00:00 GMT\r\nServer: Kestrel\r\n\r\n");
        _smallNextSecond = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nDate: Mon, 30 Nov 2026 03:00:01 GMT\r\nServer: Kestrel\r\n\r\n");
        _large = Encoding.ASCII.GetBytes(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: Mon, 30 Nov 2026 03:00:00 GMT\r\nServer: Kestrel\r\n"
            + "Transfer-Encoding: chunked\r\nCache-Control: private, max-age=0\r\nVary: Accept-Encoding\r\nETag: \"0x8DCF1A2B3C4D5E6\"\r\n"
            + "Set-Cookie: session=abcdef0123456789; Path=/; HttpOnly; Secure; SameSite=Lax\r\nSet-Cookie: theme=dark; Path=/\r\n"
            + "X-Request-Id: 4bf92f3577b34da6a3ce929d0e0e4736\r\nStrict-Transport-Security: max-age=31536000\r\n\r\n");
        _chunkedBody = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(
            "400;ext=1\r\n" + new string('a', 1024) + "\r\n400\r\n" + new string('b', 1024) + "\r\n0\r\nX-Checksum: abc\r\n\r\n"));
    }

    [Benchmark(Baseline = true)]
    public int ParseSmallHead()
    {
        ResponseHeadParser.TryParse(_small, requestIsHead: false, _head, out var consumed);
        return consumed;
    }

    [Benchmark]
    public int ParseChangingSmallHead()
    {
        _odd = !_odd;
        ResponseHeadParser.TryParse(_odd ? _small : _smallNextSecond, requestIsHead: false, _head, out var consumed);
        return consumed;
    }

    [Benchmark]
    public int ParseLargeHead()
    {
        ResponseHeadParser.TryParse(_large, requestIsHead: false, _head, out var consumed);
        return consumed;
    }

    [Benchmark]
    public int DecodeChunkedBody()
    {
        _chunked.Reset();
        _output.ResetWrittenCount();
        _chunked.Decode(_chunkedBody, _output, out _);
        return _output.WrittenCount;
    }
}
