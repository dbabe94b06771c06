using System.Net;
using System.Net.Sockets;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// Slow clients (issue 8, part 3) with slowhttptest from 127.0.0.1, while a probe from 127.0.0.3 keeps asking: the
/// service must stay available, slow connections must be closed within the configured limits, a slow reader must
/// not make the gateway buffer a response, and a Range header asking for too many ranges never reaches the worker.
/// Each attack lasts 20 s with fewer connections than slowhttptest's defaults, so the four cases take about 1.5 min.
/// </summary>
[Collection(SerialReliabilityCollection.Name)]
public sealed class SlowClientTests(ITestOutputHelper output)
{
    private const int HeadersTimeoutSeconds = 5;
    private const int SendTimeoutSeconds = 10;

    // The per-client cap is lifted so that the timeouts, not the cap, are what ends the slow connections. A 64 KB
    // kernel send buffer: with Linux's default (grown to 4 MiB per socket) a slow reader takes over 20 s to push back.
    private static readonly string Limits = $$"""{ "requestHeadersTimeoutSeconds": {{HeadersTimeoutSeconds}}, "sendTimeoutSeconds": {{SendTimeoutSeconds}}, "clientSendBufferSizeInKb": 64, "maxConnectionsPerClient": 2000 }""";

    private static readonly TimeSpan Length = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Slowloris_HeldConnectionsClosedByHeadersTimeout_ServiceAvailable()
    {
        // 300 connections opened over 3 s, each sending one more header line every 3 s and never finishing.
        var bound = HeadersTimeoutSeconds + 3 + 5; // the last connection opens at 3 s; Kestrel's 1 s heartbeat; a busy CI machine
        await HeldThenClosedAsync("slowloris", "-H -c 300 -r 100 -i 3 -x 10 -p 3", bound, $"requestHeadersTimeout {HeadersTimeoutSeconds} s", hashBodies: false);
    }

    [Fact]
    public async Task SlowBody_ConnectionsCutByMinimumBodyRate_ServiceAvailable()
    {
        // POSTs announcing 8 KiB, then a few bytes every 2 s: far under 240 B/s. The worker reads the whole body.
        var bound = 5 + 3 + 5; // 5 s of grace, the last connection opens at 3 s, heartbeat, a busy CI machine
        await HeldThenClosedAsync("slow body", "-B -c 300 -r 100 -i 2 -x 2 -s 8192 -p 3", bound, "240 B/s after 5 s grace", hashBodies: true);
    }

    [Fact]
    public async Task SlowRead_LargeResponse_NotBuffered_ReadersCutBySendTimeout_ServiceAvailable()
    {
        // 100 clients ask three times for the 8 MiB download with a 512-1024 byte TCP window and read 32 bytes every
        // 5 s. Buffering the answers would take 100 x 8 MiB = 800 MiB; plain Kestrel writing one byte[] reached 2.7 GiB.
        // slowhttptest counts a connection as open until it has read its way to the reset or FIN, behind the bytes in
        // its own buffer (minutes at 32 bytes per 5 s), so 10 readers of our own, from 127.0.0.4, tell when the
        // gateway really ends them.
        Task<TimeSpan?[]>? readers = null;
        var (run, probe, memory) = await AttackAsync("-X -c 100 -r 50 -k 3 -w 512 -y 1024 -n 5 -z 32 -p 3", "/large", url => readers = SlowReadersAsync(url, 10, Length));
        var ends = await readers!;

        var bound = TimeSpan.FromSeconds(SendTimeoutSeconds + 5); // buffers fill within a second or two; the timer then runs
        var cut = ends.Count(e => e <= bound);
        var maxGrowth = 100L * 1024 * 1024;
        var passed = cut == ends.Length && memory < maxGrowth && probe.Failures.Count == 0;
        Row("slow read", run, probe, $"slowhttptest sees none closed (it reads its way to the reset first), our {ends.Length} slow readers closed by the gateway after {Seconds(ends.Min())}-{Seconds(ends.Max())} (bound {bound.TotalSeconds:0} s, sendTimeout {SendTimeoutSeconds} s), RSS peak {MemoryUse.Mb(memory)} for {run.PeakConnected + ends.Length} readers of 8 MiB", passed);
        Assert.True(run.PeakConnected >= 50, $"the attack never held many connections ({run.PeakConnected})");
        Assert.True(memory < maxGrowth, $"RSS grew by {MemoryUse.Mb(memory)}: responses are being buffered");
        Assert.True(cut == ends.Length, $"only {cut} of {ends.Length} slow readers were cut within {bound.TotalSeconds} s");
        AssertAvailable(probe, run);
    }

    [Fact]
    public async Task RangeAbuse_TooManyRangesDropped_WorkerSeesNone_ServiceAvailable()
    {
        // "Apache Killer": Range: bytes=0-,5-0,5-1,...,5-2000 (about 2000 overlapping ranges) on every request.
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(ReliabilityConfigs.Gateway([backend], Limits), output);

        // A client asking for a few ranges is not affected; one over the cap (default 200) gets the whole answer.
        using (await gateway.GetAsync(TestConfigs.AppHost, "/", r => r.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 9) { Ranges = { new(20, 29) } }))
        {
        }

        Assert.True(backend.ReceivedHeaders.TryDequeue(out var few) && few.TryGetValue("Range", out var kept) && kept == "bytes=0-9, 20-29", "two ranges should be forwarded as they are");
        using (await gateway.GetAsync(TestConfigs.AppHost, "/", r => r.Headers.TryAddWithoutValidation("Range", "bytes=" + string.Join(",", Enumerable.Range(0, 201).Select(i => $"{i}-{i}")))))
        {
        }

        Assert.True(backend.ReceivedHeaders.TryDequeue(out var many) && !many.ContainsKey("Range"), "201 ranges should be dropped");

        await using var probe = ServiceProbe.Start(gateway.Url, TestConfigs.AppHost);
        await probe.WaitForFirstAnswerAsync();
        var run = await SlowHttpTest.RunAsync($"-R -c 100 -r 50 -a 5 -b 2000 -p 3 -u {Target(gateway, "/")}", Length);
        await probe.StopAsync();

        var attacks = backend.ReceivedHeaders.Count(h => h.ContainsKey("Range"));
        var forwarded = backend.ReceivedHeaders.Count - probe.Answered;
        var passed = attacks == 0 && forwarded > 0 && probe.Failures.Count == 0;
        ReliabilityReport.Row(output, "range abuse", $"{forwarded} attack requests reached the worker, {attacks} with their Range header (cap 200, over it the header is dropped as Apache/nginx do), service available {Percent(run)}, {probe.Summary()}", passed);
        Assert.True(forwarded > 0, "no attack request reached the worker");
        Assert.Equal(0, attacks);
        AssertAvailable(probe, run);
    }

    /// <summary>An attack whose connections the gateway must let in and then close within <paramref name="bound"/> seconds.</summary>
    private async Task HeldThenClosedAsync(string name, string arguments, int bound, string limit, bool hashBodies)
    {
        var (run, probe, _) = await AttackAsync(arguments, "/", hashBodies: hashBodies);
        var passed = run.AllClosedAt <= bound && probe.Failures.Count == 0;
        Row(name, run, probe, $"{run.Closed} closed, all closed by {(run.AllClosedAt is { } at ? $"{at} s" : "never")} (bound {bound} s, {limit})", passed);
        Assert.True(run.PeakConnected >= 100, $"the attack never held many connections ({run.PeakConnected})");
        Assert.True(run.AllClosedAt <= bound, $"connections were still open at {bound} s");
        AssertAvailable(probe, run);
    }

    /// <summary>Runs one slowhttptest attack against a fresh gateway with a probe beside it; returns the peak RSS growth too.</summary>
    private async Task<(SlowHttpTestRun Run, ServiceProbe Probe, long RssGrowth)> AttackAsync(string arguments, string path, Action<Uri>? alongside = null, bool hashBodies = false)
    {
        await using var backend = await TestBackend.StartAsync("b0", hashBodies: hashBodies);
        await using var gateway = await TestGateway.StartAsync(ReliabilityConfigs.Gateway([backend], Limits), output);
        using (var sample = await gateway.GetAsync("127.0.0.1", path))
        {
            // What the attack will ask for is really served, from the worker, through the gateway.
            output.WriteLine($"GET {path}: {(int)sample.StatusCode}, {(await sample.Content.ReadAsByteArrayAsync()).Length} bytes");
        }

        var probe = ServiceProbe.Start(gateway.Url, TestConfigs.AppHost);
        await probe.WaitForFirstAnswerAsync();
        await using var memory = MemoryUse.Watch();
        var attack = SlowHttpTest.RunAsync($"{arguments} -u {Target(gateway, path)}", Length);
        alongside?.Invoke(gateway.Url);
        var run = await attack;
        await probe.DisposeAsync();
        output.WriteLine($"the worker got {backend.RequestCount} requests");
        return (run, probe, memory.PeakRssGrowth);
    }

    /// <summary>
    /// Clients from 127.0.0.4 with a 1 KiB receive buffer that ask for /large and read 32 bytes a second; each
    /// returns when the gateway ended its connection, or null if it never did. The end is read from the kernel's TCP
    /// state: a reset or FIN arrives behind bytes the reader has not consumed yet, which it would take minutes to reach.
    /// </summary>
    private static async Task<TimeSpan?[]> SlowReadersAsync(Uri url, int count, TimeSpan limit)
    {
        var source = IPAddress.Parse("127.0.0.4");
        return await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(IPAddress.Loopback, url.Port);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET /large HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\n\r\n"), SocketFlags.None);
            var buffer = new byte[32];
            var tcpInfo = new byte[8];
            while (watch.Elapsed < limit)
            {
                await Task.Delay(1000);
                socket.GetRawSocketOption(6 /* IPPROTO_TCP */, 11 /* TCP_INFO */, tcpInfo);
                if (tcpInfo[0] != 1 /* TCP_ESTABLISHED */)
                {
                    return watch.Elapsed;
                }

                if (socket.Available > 0)
                {
                    socket.Receive(buffer);
                }
            }

            return (TimeSpan?)null;
        }));
    }

    private static string Seconds(TimeSpan? elapsed) => elapsed is { } e ? $"{e.TotalSeconds:0.0} s" : "never";

    private static string Target(TestGateway gateway, string path) => $"http://127.0.0.1:{gateway.Url.Port}{path}";

    private void Row(string name, SlowHttpTestRun run, ServiceProbe probe, string closures, bool passed)
    {
        output.WriteLine($"slowhttptest ended: {run.ExitStatus}");
        output.WriteLine("second  closed  pending  connected  available");
        foreach (var second in run.Seconds)
        {
            output.WriteLine($"{second.Second,6}  {second.Closed,6}  {second.Pending,7}  {second.Connected,9}  {second.ServiceAvailable}");
        }

        ReliabilityReport.Row(
            output,
            name,
            $"{run.PeakConnected} held at peak, {closures}, service available {Percent(run)}, {probe.Summary()}",
            passed);
    }

    private static string Percent(SlowHttpTestRun run) => $"{100 * run.AvailableSeconds / run.Seconds.Count}%";

    private static void AssertAvailable(ServiceProbe probe, SlowHttpTestRun run)
    {
        Assert.True(probe.Failures.Count == 0 && probe.Answered > 0, probe.Summary());
        Assert.True(run.AvailableSeconds == run.Seconds.Count, $"slowhttptest found the service unavailable for {run.Seconds.Count - run.AvailableSeconds} of {run.Seconds.Count} s");
    }
}
