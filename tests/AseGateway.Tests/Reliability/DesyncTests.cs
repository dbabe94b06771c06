using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// Request smuggling and desync: raw request vectors replayed through the gateway, one connection each, to a
/// worker that records what it receives.
/// </summary>
public sealed partial class DesyncTests(ITestOutputHelper output)
{
    private static readonly SemaphoreSlim Parallelism = new(16);

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: web.contoso.test\n\n", "bare LF line ends")]
    [InlineData("GET / HTTP/1.1\r\nHost: web.contoso.test\r\nTransfer-Encoding\u0001: chunked\r\n\r\n", "control character in a header name")]
    [InlineData("GET / HTTP/1.1\r\nHost: web.contoso.test\r\nX-Thing(: 1\r\n\r\n", "separator in a header name")]
    [InlineData("GET / HTTP/1.1\r\nHost: web.contoso.test\r\nX-Thing: a\u000bb\r\n\r\n", "control character in a header value")]
    [InlineData("GET / HTTP/1.1\r\nHost: web.contoso.test\r\nX-Thing: a\u007fb\r\n\r\n", "DEL in a header value")]
    [InlineData("GET / HTTP/1.1\r\nHost: web.contoso.test\r\nX-Folded: a\r\n b\r\n\r\n", "obs-fold")]
    public async Task MalformedRequest_Is400AndClosed_WorkerSeesNothing(string raw, string what)
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List), output);

        var result = await ReplayAsync(gateway.Url, Encoding.Latin1.GetBytes(raw));

        Assert.True(result.Statuses.SequenceEqual([400]), $"{what}: got [{string.Join(", ", result.Statuses)}]");
        Assert.True(result.Closed, $"{what}: the connection stayed open");
        Assert.Equal(0, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task TabInAHeaderValue_IsForwarded()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List), output);

        var result = await ReplayAsync(gateway.Url, Encoding.Latin1.GetBytes("GET / HTTP/1.1\r\nHost: web.contoso.test\r\nX-Thing: a\tb\r\nConnection: close\r\n\r\n"));

        Assert.Equal([200], result.Statuses);
        Assert.Equal(1, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task KestrelParsingCorpus_NothingReachesTheWorker_AtMostOneErrorEach()
    {
        await using var backends = await Backends.StartAsync(1);
        var (files, results) = await ReplayCorpusAsync("kestrel-parsing-data", backends);

        var bad = results.Where(r => r.Result.Statuses.Count > 1 || r.Result.Statuses.Any(s => s < 400) || r.Result.TimedOut).Select(r => $"{r.File}: [{string.Join(",", r.Result.Statuses)}]{(r.Result.TimedOut ? " hung" : string.Empty)}").ToList();
        ReliabilityReport.Row(output, "desync (kestrel-parsing-data)", $"{files.Length - bad.Count}/{files.Length} vectors refused, {backends.List[0].RequestCount} reached the worker", bad.Count == 0 && backends.List[0].RequestCount == 0);
        Assert.True(files.Length > 200, $"only {files.Length} vectors found");
        Assert.True(bad.Count == 0, string.Join(Environment.NewLine, bad));
        Assert.Equal(0, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task SmugglerGadgets_WorkerNeverSeesAnUnframedRequestOrAMalformedHeader()
    {
        await using var backends = await Backends.StartAsync(1);
        var (files, results) = await ReplayCorpusAsync("smuggler-te-gadgets", backends);

        // Each vector is one request (plus a poisoning leftover): the worker may receive at most one request per
        // vector, and never a header that is not a plain token name with a clean value.
        var responses = results.Sum(r => r.Result.Statuses.Count(s => s < 400));
        var hung = results.Where(r => r.Result.TimedOut).Select(r => r.File).ToList();
        var malformed = backends.List[0].ReceivedHeaders.SelectMany(h => h.Keys).Where(k => k.Any(c => c < 0x21 || c > 0x7e || "()<>@,;:\\\"/[]?={}".Contains(c))).ToList();
        ReliabilityReport.Row(output, "desync (smuggler-te-gadgets)", $"{files.Length} vectors, {backends.List[0].RequestCount} forwarded once each, {malformed.Count} malformed headers forwarded, {hung.Count} hung", hung.Count == 0 && malformed.Count == 0 && backends.List[0].RequestCount == responses);
        Assert.True(files.Length > 200, $"only {files.Length} vectors found");
        Assert.True(backends.List[0].RequestCount <= files.Length, $"{backends.List[0].RequestCount} requests reached the worker from {files.Length} vectors");
        Assert.Equal(backends.List[0].RequestCount, responses);
        Assert.Empty(malformed);
        Assert.True(hung.Count == 0, string.Join(", ", hung));
        Assert.DoesNotContain(backends.List[0].ReceivedHeaders, h => h.TryGetValue("Transfer-Encoding", out var te) && !string.Equals(te, "chunked", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("smuggler-te-gadgets")]
    [InlineData("kestrel-parsing-data")]
    public async Task DesyncCorpus_TheFrontAnswersEachVector_AsKestrelAloneDoes(string corpus)
    {
        // The front serves what it reads as plain (chunked bodies among it) and hands the rest to Kestrel from the first
        // byte: replayed through a gateway with the front and one without, every vector gets the same answers, and the
        // workers behind them receive as many requests.
        await using var frontWorker = await Backends.StartAsync(1);
        await using var kestrelWorker = await Backends.StartAsync(1);
        await using var withFront = await TestGateway.StartAsync(Fast(TestConfigs.Static(frontWorker.List)), output, http1Front: true);
        await using var kestrelAlone = await TestGateway.StartAsync(Fast(TestConfigs.Static(kestrelWorker.List)), output, http1Front: false);
        var files = Directory.GetFiles(SharedCorpora.Path("reliability-corpora", "http1-desync", corpus), "*.bin");

        var results = await Task.WhenAll(files.Select(async file =>
        {
            var raw = Retarget(await File.ReadAllBytesAsync(file));
            var answers = await Task.WhenAll(ReplayAsync(withFront.Url, raw), ReplayAsync(kestrelAlone.Url, raw));
            return (File: Path.GetFileName(file), Front: answers[0], Kestrel: answers[1]);
        }));

        var differ = results.Where(r => !r.Front.Statuses.SequenceEqual(r.Kestrel.Statuses) || r.Front.TimedOut != r.Kestrel.TimedOut)
            .Select(r => $"{r.File}: front [{string.Join(",", r.Front.Statuses)}], Kestrel alone [{string.Join(",", r.Kestrel.Statuses)}]").ToList();
        Assert.True(files.Length > 200, $"only {files.Length} vectors found");
        Assert.True(differ.Count == 0, string.Join(Environment.NewLine, differ));
        Assert.Equal(kestrelWorker.List[0].RequestCount, frontWorker.List[0].RequestCount);
    }

    /// <summary>Replays every vector of one desync corpus through a gateway in front of <paramref name="backends"/>, one connection each.</summary>
    private async Task<(string[] Files, (string File, ReplayResult Result)[] Results)> ReplayCorpusAsync(string corpus, Backends backends)
    {
        var folder = SharedCorpora.Path("reliability-corpora", "http1-desync", corpus);
        await using var gateway = await TestGateway.StartAsync(Fast(TestConfigs.Static(backends.List)), output);
        var files = Directory.GetFiles(folder, "*.bin");
        var results = await Task.WhenAll(files.Select(async f => (File: Path.GetFileName(f), Result: await ReplayAsync(gateway.Url, Retarget(await File.ReadAllBytesAsync(f))))));
        return (files, results);
    }

    /// <summary>Short timeouts, so vectors that leave a request half-sent end quickly.</summary>
    private static string Fast(string json) => json.Replace("\"trustedForwarders\": []", "\"trustedForwarders\": [], \"limits\": { \"requestHeadersTimeoutSeconds\": 2, \"maxConnectionsPerClient\": 1000 }");

    /// <summary>The corpus says "Host: localhost"; the app answers on its own host name.</summary>
    private static byte[] Retarget(byte[] raw)
    {
        var text = Encoding.Latin1.GetString(raw);
        return Encoding.Latin1.GetBytes(text.Replace("Host: localhost", $"Host: {TestConfigs.AppHost}", StringComparison.Ordinal));
    }

    private static async Task<ReplayResult> ReplayAsync(Uri url, byte[] raw)
    {
        await Parallelism.WaitAsync();
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, url.Port);
            await socket.SendAsync(raw, SocketFlags.None);
            var received = new MemoryStream();
            var buffer = new byte[8192];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(8));
            var closed = false;
            var timedOut = false;
            try
            {
                while (true)
                {
                    var read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                    if (read == 0)
                    {
                        closed = true;
                        break;
                    }

                    received.Write(buffer, 0, read);
                }
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
            }
            catch (SocketException)
            {
                closed = true;
            }

            // Status lines wherever they start: a body framed by its length has no line end before the next answer.
            var text = Encoding.Latin1.GetString(received.ToArray());
            var statuses = StatusLine().Matches(text).Select(match => int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture)).ToList();

            // A connection still open after an answer is keep-alive doing its job; only silence is a hang.
            return new ReplayResult(statuses, closed, timedOut && statuses.Count == 0);
        }
        finally
        {
            Parallelism.Release();
        }
    }

    [GeneratedRegex(@"HTTP/1\.[01] ([0-9]{3}) ")]
    private static partial Regex StatusLine();

    private sealed record ReplayResult(List<int> Statuses, bool Closed, bool TimedOut);
}
