using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AseGateway.Configuration;
using AseGateway.Observability;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Benchmarks;

/// <summary>
/// The access log's cost per request: what the request path pays (capture the fields, enqueue one struct), and
/// what the background writer pays to format one entry (W3C or JSON) into its reused buffer.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet needs an unsealed class; [GlobalCleanup] disposes.")]
public class AccessLogBenchmarks
{
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _json = new(Stream.Null);
    private AccessLogModel _settings = null!;
    private AccessLogWriter _writer = null!;
    private DefaultHttpContext _context = null!;
    private AccessLogEntry _entry;

    [GlobalSetup]
    public void Setup()
    {
        // The writer really runs, writing to /dev/null: the queue drains as it would to a fast disk.
        _settings = new AccessLogModel(true, AccessLogFormat.W3C, "/dev/null", long.MaxValue, 1, 1_000_000, IncludeCookies: false);
        _writer = new AccessLogWriter(TimeProvider.System, NullLogger<AccessLogWriter>.Instance);
        _context = new DefaultHttpContext();
        var request = _context.Request;
        request.Method = HttpMethods.Get;
        request.Path = "/api/orders/42";
        request.QueryString = new QueryString("?expand=lines&page=2");
        request.Headers.Host = "shop.contoso.com";
        request.Headers.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        request.Headers.Referer = "https://shop.contoso.com/orders";
        _context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
        _context.Connection.LocalPort = 443;
        _context.Response.StatusCode = 200;
        _entry = AccessLogCapture.Capture(_context, _settings, sentBytes: 5120, receivedBytes: 0, elapsedTicks: Stopwatch.Frequency / 250);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _json.Dispose();
    }

    /// <summary>The request path: read the fields the request already holds, hand one struct to the queue.</summary>
    [Benchmark(Baseline = true)]
    public void CaptureAndEnqueue() => _writer.Enqueue(AccessLogCapture.Capture(_context, _settings, 5120, 0, Stopwatch.Frequency / 250));

    /// <summary>The writer task, per entry: one W3C line into the reused buffer.</summary>
    [Benchmark]
    public int FormatW3C()
    {
        _buffer.ResetWrittenCount();
        AccessLogFormatter.WriteW3C(_buffer, _entry);
        return _buffer.WrittenCount;
    }

    /// <summary>The writer task, per entry: one JSON line into the reused buffer.</summary>
    [Benchmark]
    public int FormatJson()
    {
        _buffer.ResetWrittenCount();
        AccessLogFormatter.WriteJson(_buffer, _json, _entry);
        return _buffer.WrittenCount;
    }
}
