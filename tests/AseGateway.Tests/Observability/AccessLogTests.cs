using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AseGateway.Control;
using AseGateway.Observability;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Observability;

/// <summary>The access log of a real gateway: every field of every kind of answer, JSON lines, reloads, a full queue.</summary>
public sealed class AccessLogTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly IPAddress Two = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Three = IPAddress.Parse("127.0.0.3");

    private readonly ConfigDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Adds an observability section (and, optionally, access restrictions) to a test configuration.</summary>
    internal static string WithObservability(string json, string observability, string? restrictions = null)
    {
        if (restrictions is not null)
        {
            json = json.Replace("\"loadBalancing\": \"RoundRobin\"", $"\"loadBalancing\": \"RoundRobin\", \"accessRestrictions\": {restrictions}");
        }

        return json.Replace("\"management\":", $"\"observability\": {observability},\n  \"management\":");
    }

    [Fact]
    public async Task TrafficMix_W3C_EveryFieldOfEveryAnswer()
    {
        var backend = await TestBackend.StartAsync("hash", hashBodies: true);
        var stopped = false;
        try
        {
            var log = Path.Combine(_folder.Path, "logs", "access.log");
            var json = WithObservability(
                TestConfigs.Static([backend]),
                $$"""{ "accessLog": { "enabled": true, "path": "{{log}}" } }""",
                """{ "defaultAction": "Allow", "rules": [ { "name": "blockThree", "priority": 100, "action": "Deny", "ipAddress": "127.0.0.3/32" } ] }""");
            await using var gateway = await TestGateway.StartAsync(json, output);
            var port = gateway.Url.Port.ToString(CultureInfo.InvariantCulture);
            var emptyHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData([]));

            using (var ok = await LoopbackClient.GetAsync(Two, new Uri(gateway.Url, "/hello?x=1&y=a%20b"), TestConfigs.AppHost, request =>
            {
                request.Headers.TryAddWithoutValidation("User-Agent", "Test Agent/1.0");
                request.Headers.TryAddWithoutValidation("Referer", "http://ref.test/page");
                request.Headers.TryAddWithoutValidation("Cookie", "ARRAffinity=abc; session=s3cr3t-cookie");
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer s3cr3t-token");
                request.Headers.TryAddWithoutValidation("X-API-Key", "s3cr3t-key");
            }))
            {
                Assert.Equal(emptyHash, await ok.Content.ReadAsStringAsync());
            }

            using var unknown = await LoopbackClient.GetAsync(Two, gateway.Url, "nope.test");
            var unknownBody = await unknown.Content.ReadAsByteArrayAsync();
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

            using var denied = await LoopbackClient.GetAsync(Three, gateway.Url, TestConfigs.AppHost);
            var deniedBody = await denied.Content.ReadAsByteArrayAsync();
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

            var body = new byte[1234];
            Random.Shared.NextBytes(body);
            using (var client = LoopbackClient.From(Two))
            using (var post = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.Url, "/submit form")) { Content = new ByteArrayContent(body) })
            {
                post.Headers.Host = TestConfigs.AppHost;
                using var posted = await client.SendAsync(post);
                Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body)), await posted.Content.ReadAsStringAsync());
            }

            // A chunked body (no Content-Length) is counted as it is read.
            using (var client = LoopbackClient.From(Two))
            using (var chunked = new HttpRequestMessage(HttpMethod.Put, new Uri(gateway.Url, "/chunked")) { Content = new StreamContent(new UnsizedStream(new byte[500])) })
            {
                chunked.Headers.Host = TestConfigs.AppHost;
                chunked.Headers.TransferEncodingChunked = true;
                using var put = await client.SendAsync(chunked);
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            }

            await backend.DisposeAsync();
            stopped = true;
            using var failed = await LoopbackClient.GetAsync(Two, new Uri(gateway.Url, "/gone"), TestConfigs.AppHost);
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);

            await WaitForWrittenAsync(gateway, 6);
            var lines = ReadLines(log);
            output.WriteLine(string.Join('\n', lines));

            Assert.StartsWith("#Software: AseGateway ", lines[0]);
            Assert.Equal("#Version: 1.0", lines[1]);
            Assert.True(DateTime.TryParseExact(lines[2]["#Date: ".Length..], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out _), lines[2]);
            Assert.Equal("#Fields: " + AccessLogFormatter.W3CFields, lines[3]);
            var entries = lines.Skip(4).Select(line => line.Split(' ')).ToList();
            Assert.Equal(6, entries.Count);
            Assert.All(entries, fields => Assert.Equal(19, fields.Length));
            foreach (var fields in entries)
            {
                var time = DateTime.ParseExact($"{fields[0]} {fields[1]}", "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
                Assert.InRange(time, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1));
                Assert.Matches("^[0-9]+$", fields[18]);
            }

            // date time | s-sitename cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Cookie) cs(Referer) cs-host
            // sc-status sc-substatus sc-win32-status sc-bytes cs-bytes (time-taken checked above).
            // An entry is handed over once Kestrel has written the end of its answer, which can be after the client has
            // it and sent the next request on another connection: entries are found by what they record, not by order.
            string[] Entry(string method, string stem, string clientIp, string host)
            {
                var matching = entries.Where(fields => fields[3] == method && fields[4] == stem && fields[8] == clientIp && fields[12] == host).ToList();
                Assert.True(matching.Count == 1, $"{matching.Count} entries for {method} {stem} from {clientIp} to {host}");
                return matching[0][2..18];
            }

            Assert.Equal(["web", "GET", "/hello", "x=1&y=a%20b", port, "-", "127.0.0.2", "Test+Agent/1.0", "-", "http://ref.test/page", TestConfigs.AppHost, "200", "0", "0", "64", "0"], Entry("GET", "/hello", "127.0.0.2", TestConfigs.AppHost));
            Assert.Equal(["-", "GET", "/", "-", port, "-", "127.0.0.2", "-", "-", "-", "nope.test", "404", "10", "0", unknownBody.Length.ToString(CultureInfo.InvariantCulture), "0"], Entry("GET", "/", "127.0.0.2", "nope.test"));
            Assert.Equal(["web", "GET", "/", "-", port, "-", "127.0.0.3", "-", "-", "-", TestConfigs.AppHost, "403", "6", "0", deniedBody.Length.ToString(CultureInfo.InvariantCulture), "0"], Entry("GET", "/", "127.0.0.3", TestConfigs.AppHost));
            Assert.Equal(["web", "POST", "/submit+form", "-", port, "-", "127.0.0.2", "-", "-", "-", TestConfigs.AppHost, "200", "0", "0", "64", "1234"], Entry("POST", "/submit+form", "127.0.0.2", TestConfigs.AppHost));
            Assert.Equal(["web", "PUT", "/chunked", "-", port, "-", "127.0.0.2", "-", "-", "-", TestConfigs.AppHost, "200", "0", "0", "64", "500"], Entry("PUT", "/chunked", "127.0.0.2", TestConfigs.AppHost));
            Assert.Equal(["web", "GET", "/gone", "-", port, "-", "127.0.0.2", "-", "-", "-", TestConfigs.AppHost, "502", "3", "12029", "0", "0"], Entry("GET", "/gone", "127.0.0.2", TestConfigs.AppHost));

            var text = File.ReadAllText(log);
            Assert.DoesNotContain("s3cr3t", text, StringComparison.Ordinal);
        }
        finally
        {
            if (!stopped)
            {
                await backend.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task MalformedHeader_IsLoggedAs400Point14()
    {
        await using var backends = await Backends.StartAsync(1);
        var log = Path.Combine(_folder.Path, "logs", "access.log");
        var json = WithObservability(TestConfigs.Static(backends.List), $$"""{ "accessLog": { "enabled": true, "path": "{{log}}" } }""");
        await using var gateway = await TestGateway.StartAsync(json, output);

        // HttpClient refuses to send a control character in a value: the request goes out as raw bytes.
        using (var client = new System.Net.Sockets.TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, gateway.Url.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.Latin1.GetBytes($"GET /bad HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nX-Thing: a\u000bb\r\n\r\n"));
            using var reader = new StreamReader(stream, Encoding.Latin1);
            Assert.StartsWith("HTTP/1.1 400", await reader.ReadLineAsync());
        }

        await WaitForWrittenAsync(gateway, 1);
        var fields = ReadLines(log).Skip(4).Single().Split(' ');
        Assert.Equal(["/bad", "400", "14"], [fields[4], fields[13], fields[14]]);
        Assert.Equal(0, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task JsonFormat_OneObjectPerLine_WithAppServiceColumnNames_AndCookiesWhenAsked()
    {
        await using var backends = await Backends.StartAsync(1);
        var log = Path.Combine(_folder.Path, "access.jsonl");
        await using var gateway = await TestGateway.StartAsync(
            WithObservability(TestConfigs.Static(backends.List), $$"""{ "accessLog": { "enabled": true, "format": "Json", "path": "{{log}}", "includeCookies": true } }"""),
            output);

        using (var ok = await LoopbackClient.GetAsync(Two, new Uri(gateway.Url, "/json?q=\"quoted\""), TestConfigs.AppHost, request =>
        {
            request.Headers.TryAddWithoutValidation("User-Agent", "agent \"x\"");
            request.Headers.TryAddWithoutValidation("Cookie", "a=1");
        }))
        {
            Assert.Equal("b0", await ok.Content.ReadAsStringAsync());
        }

        using var unknown = await LoopbackClient.GetAsync(Two, gateway.Url, "nope.test");
        await WaitForWrittenAsync(gateway, 2);

        // Entries of answers on different connections can be written in either order.
        var lines = ReadLines(log);
        Assert.Equal(2, lines.Count);
        using var first = JsonDocument.Parse(lines.Single(line => line.Contains("\"CsUriStem\":\"/json\"", StringComparison.Ordinal)));
        var row = first.RootElement;
        Assert.Equal(DateTimeKind.Utc, row.GetProperty("TimeGenerated").GetDateTime().Kind);
        Assert.Equal("web", row.GetProperty("SiteName").GetString());
        Assert.Equal("GET", row.GetProperty("CsMethod").GetString());
        Assert.Equal("/json", row.GetProperty("CsUriStem").GetString());
        Assert.Equal("q=%22quoted%22", row.GetProperty("CsUriQuery").GetString());
        Assert.Equal(gateway.Url.Port, row.GetProperty("SPort").GetInt32());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("CsUsername").ValueKind);
        Assert.Equal("127.0.0.2", row.GetProperty("CIp").GetString());
        Assert.Equal("agent \"x\"", row.GetProperty("UserAgent").GetString());
        Assert.Equal("a=1", row.GetProperty("Cookie").GetString());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("Referer").ValueKind);
        Assert.Equal(TestConfigs.AppHost, row.GetProperty("CsHost").GetString());
        Assert.Equal(200, row.GetProperty("ScStatus").GetInt32());
        Assert.Equal(0, row.GetProperty("ScSubStatus").GetInt32());
        Assert.Equal(0, row.GetProperty("ScWin32Status").GetInt32());
        Assert.Equal(2, row.GetProperty("ScBytes").GetInt64());
        Assert.Equal(0, row.GetProperty("CsBytes").GetInt64());
        Assert.True(row.GetProperty("TimeTaken").GetInt64() >= 0);

        using var second = JsonDocument.Parse(lines.Single(line => !line.Contains("\"CsUriStem\":\"/json\"", StringComparison.Ordinal)));
        Assert.Equal(404, second.RootElement.GetProperty("ScStatus").GetInt32());
        Assert.Equal(AccessLogSubStatus.UnknownHost, second.RootElement.GetProperty("ScSubStatus").GetInt32());
        Assert.Equal(JsonValueKind.Null, second.RootElement.GetProperty("SiteName").ValueKind);
    }

    [Fact]
    public async Task Reload_NewPath_SwitchesFiles_DisableStops_ReenableStartsAFreshFile()
    {
        await using var backends = await Backends.StartAsync(1);
        string Config(string file, bool enabled = true) => WithObservability(
            TestConfigs.Static(backends.List),
            $$"""{ "accessLog": { "enabled": {{(enabled ? "true" : "false")}}, "path": "{{file}}" } }""");

        _folder.WriteInPlace(Config("first.log"));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(_folder.FilePath), output);
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost, "/one"));
        await WaitForWrittenAsync(gateway, 1);

        await ApplyAsync(gateway, Config("second.log"));
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost, "/two"));
        await WaitForWrittenAsync(gateway, 2);

        await ApplyAsync(gateway, Config("second.log", enabled: false));
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost, "/not-logged"));

        await ApplyAsync(gateway, Config("third.log"));
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost, "/three"));
        await WaitForWrittenAsync(gateway, 3);

        // Relative paths are relative to the configuration file's folder; each file has its own header.
        Assert.Equal(["/one"], EntryStems(Path.Combine(_folder.Path, "first.log")));
        Assert.Equal(["/two"], EntryStems(Path.Combine(_folder.Path, "second.log")));
        Assert.Equal(["/three"], EntryStems(Path.Combine(_folder.Path, "third.log")));
        Assert.Equal(0, gateway.Server.AccessLog.Dropped);
    }

    [Fact]
    public async Task FullQueue_DropsAndCounts_RequestsDoNotWait()
    {
        // A FIFO with no reader: the writer blocks opening it, as on a hung disk. Requests must not notice.
        var fifo = Path.Combine(_folder.Path, "stuck.log");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(
            WithObservability(TestConfigs.Static(backends.List), $$"""{ "accessLog": { "enabled": true, "path": "{{fifo}}", "queueCapacity": 5 } }"""),
            output);

        const int Requests = 40;
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost, $"/r{i}"));
        }

        // An entry is handed over once Kestrel has written the end of its answer, just after the client has it.
        var writer = gateway.Server.AccessLog;
        using (var deadline = new CancellationTokenSource(Timeout))
        {
            while (writer.Dropped + writer.QueueLength < Requests)
            {
                await Task.Delay(10, deadline.Token);
            }
        }

        Assert.Equal(Requests - 5, writer.Dropped);
        Assert.Equal(5, writer.QueueLength);

        // Unblock: read the FIFO; the five queued entries come out after the header.
        using var reader = new StreamReader(new FileStream(fifo, FileMode.Open, FileAccess.Read));
        var lines = new List<string>();
        while (lines.Count < 9 && await reader.ReadLineAsync().WaitAsync(Timeout) is { } line)
        {
            lines.Add(line);
        }

        // They are five different requests; which five depends on when each answer's entry was handed over.
        var queued = lines.Skip(4).Select(l => l.Split(' ')[4]).ToList();
        Assert.Equal(5, queued.Distinct().Count());
        Assert.All(queued, stem => Assert.Matches("^/r([0-9]|[1-3][0-9])$", stem));
        await WaitForWrittenAsync(gateway, 5);
    }

    private static async Task ApplyAsync(TestGateway gateway, string json)
    {
        var result = await gateway.Server.Config.ReplaceAsync(Encoding.UTF8.GetBytes(json), ifMatchSha256: null, "test");
        Assert.Equal(ConfigChangeOutcome.Applied, result.Outcome);
    }

    private static List<string> EntryStems(string path) =>
        ReadLines(path).Where(line => !line.StartsWith('#')).Select(line => line.Split(' ')[4]).ToList();

    internal static List<string> ReadLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>Waits (bounded) until the writer has written <paramref name="count"/> entries in all.</summary>
    internal static async Task WaitForWrittenAsync(TestGateway gateway, int count) => await WaitForWrittenAsync(gateway.Server.AccessLog, count);

    internal static async Task WaitForWrittenAsync(AccessLogWriter writer, long count)
    {
        var flushed = new SemaphoreSlim(0);
        void OnFlushed() => flushed.Release();
        writer.Flushed += OnFlushed;
        try
        {
            using var deadline = new CancellationTokenSource(Timeout);
            while (writer.Written < count)
            {
                try
                {
                    await flushed.WaitAsync(TimeSpan.FromMilliseconds(200), deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"Timed out: {writer.Written} of {count} access-log entries written ({writer.Dropped} dropped).");
                }
            }
        }
        finally
        {
            writer.Flushed -= OnFlushed;
        }
    }

    /// <summary>A body of unknown length, so that HttpClient sends it chunked.</summary>
    private sealed class UnsizedStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
