using System.Net;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// HTTP/2 attacks (issue 8, part 2): the generated floods and the captured h2spec sessions, one connection each, over
/// h2c and TLS. Each connection must end within <see cref="Bound"/>, this process (gateway and worker run in it) may
/// grow by less than 50 MB, and a probe on another connection must keep answering.
/// </summary>
[Collection(SerialReliabilityCollection.Name)]
public sealed class Http2FloodTests(ITestOutputHelper output)
{
    /// <summary>
    /// Every connection ends within 15 s of going quiet (a write-only flood: of connecting). The limits below give 5 s
    /// to finish a header block (CONTINUATION floods), 5 s of idle keep-alive after the last stream, 5 s of grace
    /// before a body slower than 240 B/s is cut, and 5 s for a client that stops reading (write-only PING and SETTINGS
    /// floods) before its connection is reset. The slowest case is a client that stops granting HTTP/2 flow-control
    /// window with 100 responses pending (an h2spec session): the default minResponseBytesPerSecond (240 B/s after 5 s)
    /// ends it after about 12 s. Kestrel checks these once a second.
    /// </summary>
    private const string Limits = """{ "requestHeadersTimeoutSeconds": 5, "keepAliveTimeoutSeconds": 5, "sendTimeoutSeconds": 5, "maxConnectionsPerClient": 1000 }""";

    private const long MaxGrowth = 50L * 1024 * 1024;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");

    // Floods whose answers (PING and SETTINGS ACKs) a real attacker never reads.
    private static readonly string[] WriteOnly = ["ping-flood-20000.h2c.bin", "settings-flood-20000.h2c.bin"];

    public static TheoryData<string, string> Floods()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(SharedCorpora.Path("reliability-corpora", "http2", "generated-floods"), "*.h2c.bin").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file), "h2c");
            data.Add(Path.GetFileName(file), "tls");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Floods))]
    public async Task Flood_ConnectionEndsWithinBound_MemoryBounded_ProbeAnswers(string file, string transport)
    {
        var bytes = await File.ReadAllBytesAsync(Path.Combine(SharedCorpora.Path("reliability-corpora", "http2", "generated-floods"), file));
        await using var rig = await Rig.StartAsync(transport, output);
        var (worker, endpoint, tls, probe) = (rig.Worker, rig.Endpoint, rig.Tls, rig.Probe);
        Http2ReplayResult result;
        long managedGrowth;
        await using (var memory = MemoryUse.Watch())
        {
            result = WriteOnly.Contains(file)
                ? await Http2Replay.FloodWithoutReadingAsync(Attacker, endpoint, tls, bytes, Bound + TimeSpan.FromSeconds(5))
                : await Http2Replay.ReplayAsync(Attacker, endpoint, tls, bytes, Bound + TimeSpan.FromSeconds(5));
            await Task.Delay(500); // a few more probes after the attack
            await probe.StopAsync();
            managedGrowth = memory.ManagedGrowth();
            var rssGrowth = memory.PeakRssGrowth;
            var passed = result.Closed && result.Elapsed <= Bound && rssGrowth < MaxGrowth && managedGrowth < MaxGrowth && probe.Failures.Count == 0;
            ReliabilityReport.Row(
                output,
                $"h2 {file.Replace(".h2c.bin", string.Empty)} ({transport})",
                $"{result.Describe()} (bound {Bound.TotalSeconds:0} s), RSS peak {MemoryUse.Mb(rssGrowth)}, heap after full GC {MemoryUse.Mb(managedGrowth)}, worker max {worker.MaxConcurrentRequests} requests at once, {probe.Summary()}",
                passed);
            Assert.True(result.Closed, $"the connection was still open after {result.Elapsed.TotalSeconds:0} s");
            Assert.True(result.Elapsed <= Bound, $"the connection ended after {result.Elapsed.TotalSeconds:0.0} s, over the {Bound.TotalSeconds} s bound");
            Assert.True(rssGrowth < MaxGrowth, $"RSS grew by {MemoryUse.Mb(rssGrowth)}");
            Assert.True(managedGrowth < MaxGrowth, $"the managed heap grew by {MemoryUse.Mb(managedGrowth)}");
        }

        Assert.True(probe.Failures.Count == 0, probe.Summary());
        Assert.True(probe.Answered > 0, probe.Summary());
    }

    /// <summary>A worker, a gateway with the limits above, the attacked endpoint and an HTTP/2 probe on another connection.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly Backends _backends;
        private readonly TestGateway _gateway;

        private Rig(Backends backends, TestGateway gateway, bool tls, ServiceProbe probe)
        {
            _backends = backends;
            _gateway = gateway;
            Tls = tls;
            Probe = probe;
        }

        public TestBackend Worker => _backends.List[0];

        public bool Tls { get; }

        public Uri Endpoint => _gateway.Server.ListenerUrls[Tls ? "https" : "h2c"];

        public ServiceProbe Probe { get; }

        public static async Task<Rig> StartAsync(string transport, ITestOutputHelper output)
        {
            var backends = await Backends.StartAsync(1);
            var gateway = await TestGateway.StartAsync(ReliabilityConfigs.Gateway(backends.List, Limits), output);
            var probe = ServiceProbe.Start(gateway.Server.ListenerUrls["h2c"], TestConfigs.AppHost, version: HttpVersion.Version20);
            var rig = new Rig(backends, gateway, transport == "tls", probe);
            await probe.WaitForFirstAnswerAsync();
            return rig;
        }

        public async ValueTask DisposeAsync()
        {
            await Probe.DisposeAsync();
            await _gateway.DisposeAsync();
            await _backends.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("h2c")]
    [InlineData("tls")]
    public async Task H2specSessions_EachEndsWithinBound_MemoryBounded_ProbeAnswers(string transport)
    {
        var files = Directory.GetFiles(SharedCorpora.Path("reliability-corpora", "http2", "nghttp2-fuzz-corpus-h2spec"))
            .Concat(Directory.GetFiles(SharedCorpora.Path("reliability-corpora", "http2", "nghttp2-fuzz-corpus-nghttp")))
            .Where(f => Path.GetFileName(f) != "index.tsv")
            .ToArray();
        await using var rig = await Rig.StartAsync(transport, output);
        var (worker, endpoint, tls, probe) = (rig.Worker, rig.Endpoint, rig.Tls, rig.Probe);
        await using var memory = MemoryUse.Watch();
        using var parallelism = new SemaphoreSlim(32);
        var results = await Task.WhenAll(files.Select(async f =>
        {
            var bytes = await File.ReadAllBytesAsync(f);
            await parallelism.WaitAsync();
            try
            {
                // A captured session of 100 requests takes a few seconds to serve on a busy machine before going quiet.
                return (File: Path.GetFileName(f)[..12], Result: await Http2Replay.ReplayAsync(Attacker, endpoint, tls, bytes, Bound + TimeSpan.FromSeconds(20)));
            }
            finally
            {
                parallelism.Release();
            }
        }));
        await probe.StopAsync();
        var managedGrowth = memory.ManagedGrowth();
        var rssGrowth = memory.PeakRssGrowth;

        var late = results.Where(r => !r.Result.Closed || r.Result.Elapsed > Bound).Select(r => $"{r.File}: {r.Result.Describe()}").ToList();
        var slowest = results.Max(r => r.Result.Elapsed);
        var passed = late.Count == 0 && rssGrowth < MaxGrowth && managedGrowth < MaxGrowth && probe.Failures.Count == 0;
        ReliabilityReport.Row(
            output,
            $"h2 h2spec sessions ({transport})",
            $"{files.Length - late.Count}/{files.Length} connections ended within {Bound.TotalSeconds:0} s of going quiet (slowest {slowest.TotalSeconds:0.0} s), RSS peak {MemoryUse.Mb(rssGrowth)}, heap after full GC {MemoryUse.Mb(managedGrowth)}, {probe.Summary()}",
            passed);
        Assert.True(files.Length > 130, $"only {files.Length} sessions found");
        Assert.True(late.Count == 0, string.Join(Environment.NewLine, late));
        Assert.True(rssGrowth < MaxGrowth, $"RSS grew by {MemoryUse.Mb(rssGrowth)}");
        Assert.True(managedGrowth < MaxGrowth, $"the managed heap grew by {MemoryUse.Mb(managedGrowth)}");
        Assert.True(probe.Failures.Count == 0, probe.Summary());
        Assert.True(probe.Answered > 0, probe.Summary());
    }
}
