using System.IO.Pipelines;
using System.Net;
using AseGateway.Forwarding;
using AseGateway.Forwarding.FastPath;
using AseGateway.Model;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Benchmarks;

/// <summary>
/// The head the fast path writes for a worker (<see cref="RequestHeadWriter.Write"/>): the request line, every client
/// field it forwards and the App Service headers, into a writer that drops the bytes after each head. A page request
/// with a browser's 14 fields (compare.sh's --browser-headers) and the bare GET of wrk and h2load.
/// </summary>
[MemoryDiagnoser]
public class ForwardedHeadBenchmarks
{
    private readonly DiscardingWriter _writer = new();
    private HttpContext _browserPage = null!;
    private HttpContext _bareGet = null!;
    private GatewayRequestFeature _gateway = null!;

    [GlobalSetup]
    public void Setup()
    {
        var snapshot = BenchmarkSnapshots.Compile("""
            {
              "name": "bench", "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ] },
              "workerPools": [ { "name": "WP1", "workerCount": 1, "workers": [ { "address": "http://127.0.0.1:5000" } ] } ],
              "plans": [ { "name": "p", "workerPool": "WP1", "instanceCount": 1 } ],
              "apps": [ { "name": "bench", "plan": "p", "hostNames": [ "bench.perf.test" ] } ]
            }
            """);
        _gateway = new GatewayRequestFeature(snapshot, IPAddress.Loopback, false, IPAddress.Loopback, 50123) { App = snapshot.Apps["bench"] };
        _browserPage = BenchmarkRequests.BrowserPageContext();
        _bareGet = BenchmarkRequests.GetRoot("HTTP/1.1");
    }

    [Benchmark(Baseline = true)]
    public long BareGet() => WriteAndDrop(_bareGet);

    [Benchmark]
    public long BrowserPage() => WriteAndDrop(_browserPage);

    private long WriteAndDrop(HttpContext context)
    {
        _writer.Written = 0;
        RequestHeadWriter.Write(_writer, context, _gateway, hasBody: false);
        return _writer.Written;
    }

    /// <summary>A writer that hands out one buffer again and again and only counts: the head's writing alone is timed.</summary>
    private sealed class DiscardingWriter : PipeWriter
    {
        private readonly byte[] _buffer = new byte[16 * 1024];

        public long Written { get; set; }

        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => Written;

        public override void Advance(int bytes) => Written += bytes;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer;

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer;

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => default;
    }
}
