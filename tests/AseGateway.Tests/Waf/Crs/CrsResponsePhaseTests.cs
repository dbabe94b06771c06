using System.Net;
using System.Text;
using System.Text.Json;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>
/// CRS phases 3 and 4 in the gateway, with a real worker (TestBackend's albedo-style /reflect) behind a real gateway:
/// a response rule blocks before anything was sent, the body limit's Reject and ProcessPartial behave like
/// ModSecurity's, and responses that are not inspected (other Content-Types, rule sets without response rules) stream.
/// </summary>
public sealed class CrsResponsePhaseTests(ITestOutputHelper output)
{
    private const string ResponseRules = """
        SecRule RESPONSE_HEADERS:X-Leak "@streq secret" "id:950901,phase:3,deny,log,msg:'Leaky response header'"
        SecRule RESPONSE_STATUS "@streq 599" "id:950902,phase:3,pass,log,msg:'Odd status',setvar:tx.odd=1"
        SecRule RESPONSE_BODY "@contains ORA-00933" "id:950903,phase:4,deny,log,msg:'SQL error leaked'"
        SecRule OUTBOUND_DATA_ERROR "@eq 1" "id:950904,phase:4,pass,log,msg:'Response body over the limit'"
        """;

    [Fact]
    public async Task Prevention_ResponseHeaderRule_ReplacesTheResponseWithTheBlockStatus()
    {
        await using var setup = await Setup.StartAsync(output, "Prevention", 1024, "Reject", ResponseRules);

        using var leaky = await setup.ReflectAsync(new { headers = new Dictionary<string, string> { ["X-Leak"] = "secret" }, body = "hello" });
        using var clean = await setup.ReflectAsync(new { headers = new Dictionary<string, string> { ["X-Leak"] = "none" }, body = "hello" });

        Assert.Equal(HttpStatusCode.Forbidden, leaky.StatusCode);
        Assert.False(leaky.Headers.Contains("X-Leak"));
        Assert.Contains("blocked by the web application firewall", await leaky.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, clean.StatusCode);
        Assert.Equal("hello", await clean.Content.ReadAsStringAsync());
        await setup.WaitForFindingAsync(f => f.RuleId == "950901" && f.Action == "Blocked");
    }

    [Fact]
    public async Task OutboundAnomalyScoreThreshold_FromTheConfiguration_ReachesTheResponsePhases()
    {
        const string Rules = "SecRule TX:outbound_anomaly_score_threshold \"@eq 7\" \"id:950905,phase:3,deny,log,msg:'Outbound threshold %{tx.outbound_anomaly_score_threshold}'\"";
        await using var setup = await Setup.StartAsync(output, "Prevention", 1024, "Reject", Rules, outboundThreshold: 7);

        using var response = await setup.ReflectAsync(new { body = "hello" });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        await setup.WaitForFindingAsync(f => f.RuleId == "950905" && f.Message == "Outbound threshold 7");
    }

    [Fact]
    public async Task Prevention_ResponseBodyRule_BlocksTheBufferedBody()
    {
        await using var setup = await Setup.StartAsync(output, "Prevention", 1024, "Reject", ResponseRules);

        using var leaking = await setup.ReflectAsync(new { body = "ORA-00933: SQL command not properly ended" });
        using var clean = await setup.ReflectAsync(new { body = "<html><body>all good</body></html>" });
        using var empty = await setup.ReflectAsync(new { headers = new Dictionary<string, string> { ["Content-Type"] = "text/plain", ["Content-Length"] = "0" } });

        Assert.Equal(HttpStatusCode.Forbidden, leaking.StatusCode);
        Assert.Equal(HttpStatusCode.OK, clean.StatusCode);
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        Assert.Empty(await empty.Content.ReadAsByteArrayAsync());
        Assert.Equal("text/html; charset=utf-8", clean.Content.Headers.ContentType?.ToString());
        Assert.Equal("<html><body>all good</body></html>", await clean.Content.ReadAsStringAsync());
        await setup.WaitForFindingAsync(f => f.RuleId == "950903" && f.Action == "Blocked");
    }

    [Fact]
    public async Task Detection_ResponseRules_LogButDeliverTheResponse()
    {
        await using var setup = await Setup.StartAsync(output, "Detection", 1024, "Reject", ResponseRules);

        using var leaking = await setup.ReflectAsync(new { body = "ORA-00933: SQL command not properly ended" });

        Assert.Equal(HttpStatusCode.OK, leaking.StatusCode);
        Assert.Equal("ORA-00933: SQL command not properly ended", await leaking.Content.ReadAsStringAsync());
        await setup.WaitForFindingAsync(f => f.RuleId == "950903" && f.Action == "Detected");
    }

    [Fact]
    public async Task Prevention_BodyOverTheLimitWithReject_IsRefused()
    {
        await using var setup = await Setup.StartAsync(output, "Prevention", 1024, "Reject", ResponseRules);

        using var large = await setup.ReflectAsync(new { body = new string('a', 4096) });
        using var small = await setup.ReflectAsync(new { body = new string('a', 1024) });

        Assert.Equal(HttpStatusCode.Forbidden, large.StatusCode);
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(1024, (await small.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task Prevention_BodyOverTheLimitWithProcessPartial_InspectsTheStartAndDeliversAll()
    {
        await using var setup = await Setup.StartAsync(output, "Prevention", 1024, "ProcessPartial", ResponseRules);

        var leakBeyondTheLimit = new string('a', 2000) + "ORA-00933" + new string('b', 2000);
        using var partial = await setup.ReflectAsync(new { body = leakBeyondTheLimit });
        using var leakAtTheStart = await setup.ReflectAsync(new { body = "ORA-00933" + new string('b', 4000) });

        Assert.Equal(HttpStatusCode.OK, partial.StatusCode);
        Assert.Equal(leakBeyondTheLimit, await partial.Content.ReadAsStringAsync());
        await setup.WaitForFindingAsync(f => f.RuleId == "950904");
        Assert.Equal(HttpStatusCode.Forbidden, leakAtTheStart.StatusCode);
    }

    [Fact]
    public async Task Prevention_ContentTypeNotListed_IsNotInspectedOrBuffered()
    {
        await using var setup = await Setup.StartAsync(output, "Prevention", 1024, "Reject", ResponseRules);

        using var json = await setup.ReflectAsync(new { headers = new Dictionary<string, string> { ["Content-Type"] = "application/json" }, body = "{\"error\": \"ORA-00933\"}" });
        using var large = await setup.ReflectAsync(new { headers = new Dictionary<string, string> { ["Content-Type"] = "image/png" }, body = new string('a', 4096) });

        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        Assert.Equal("{\"error\": \"ORA-00933\"}", await json.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, large.StatusCode);
        Assert.Equal(4096, (await large.Content.ReadAsByteArrayAsync()).Length);
        await AssertStreamsAsync(setup);
    }

    [Fact]
    public async Task RuleSetWithoutResponseRules_StreamsTheResponse()
    {
        await using var setup = await Setup.StartAsync(output, "Prevention", 1024, "Reject", "SecRule ARGS \"@contains attack\" \"id:100,phase:2,deny,log\"");

        using var reflected = await setup.ReflectAsync(new { body = "ORA-00933" });

        Assert.Equal(HttpStatusCode.OK, reflected.StatusCode);
        await AssertStreamsAsync(setup);
    }

    [Fact]
    public async Task ManyInspectedResponses_EachCompletes()
    {
        await using var setup = await Setup.StartAsync(output, "Detection", 1024, "Reject", ResponseRules);
        for (var i = 0; i < 80; i++)
        {
            using var reflected = await setup.ReflectAsync(new { body = $"response {i}" });
            Assert.Equal($"response {i}", await reflected.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task ClientsClosingAfterTheHeaders_DoNotLeaveRequestsBehind()
    {
        await using var setup = await Setup.StartAsync(output, "Detection", 1024, "Reject", ResponseRules);
        for (var i = 0; i < 80; i++)
        {
            var body = $"{{\"body\": \"response {i}\"}}";
            var request = $"POST /reflect HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, setup.Gateway.Url.Port), timeout.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), System.Net.Sockets.SocketFlags.None, timeout.Token);
            var buffer = new byte[8192];
            var read = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, timeout.Token);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        }
    }

    /// <summary>The worker sends its headers and the start of its body, then holds: the client must already see them.</summary>
    private static async Task AssertStreamsAsync(Setup setup)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(setup.Gateway.Url, "/abort-mid-body"));
        request.Headers.Host = TestConfigs.AppHost;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var response = await setup.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
        var start = new byte[2];
        await body.ReadExactlyAsync(start, timeout.Token);
        Assert.Equal("b0", Encoding.ASCII.GetString(start));
        Assert.False(setup.Backend.ReleaseAbort.Task.IsCompleted);
        setup.Backend.ReleaseAbort.TrySetResult();
    }

    private sealed class Setup : IAsyncDisposable
    {
        private readonly ConfigDirectory _folder;
        private readonly SemaphoreSlim _written = new(0);

        private Setup(ConfigDirectory folder, TestBackend backend, TestGateway gateway)
        {
            _folder = folder;
            Backend = backend;
            Gateway = gateway;
            gateway.Server.WafAuditLog!.Written += finding =>
            {
                Findings.Add(finding);
                _written.Release();
            };
        }

        public TestBackend Backend { get; }

        public TestGateway Gateway { get; }

        public HttpClient Client { get; } = new();

        public System.Collections.Concurrent.ConcurrentBag<AseGateway.Waf.WafFinding> Findings { get; } = [];

        public static async Task<Setup> StartAsync(ITestOutputHelper output, string mode, int limit, string limitAction, string rules, int? outboundThreshold = null)
        {
            var folder = new ConfigDirectory();
            var directory = Directory.CreateDirectory(Path.Combine(folder.Path, "crs")).FullName;
            File.WriteAllText(Path.Combine(directory, "crs-setup.conf"), $"""
                SecRuleEngine On
                SecResponseBodyAccess On
                SecResponseBodyMimeType text/plain text/html
                SecResponseBodyLimit {limit}
                SecResponseBodyLimitAction {limitAction}

                """);
            File.WriteAllText(Path.Combine(directory, "RESPONSE-950-TEST.conf"), rules + "\n");
            var backend = await TestBackend.StartAsync("b0");
            var policy = $$"""
                { "name": "p", "policySettings": { "mode": "{{mode}}" },
                  "managedRules": { "managedRuleSets": [ { "ruleSetType": "OWASP", "ruleSetVersion": "4.x", "rulesPath": {{JsonSerializer.Serialize(directory)}}{{(outboundThreshold is { } t ? $", \"outboundAnomalyScoreThreshold\": {t}" : "")}} } ] } }
                """;
            var json = TestConfigs.Static([backend])
                .Replace("\"workerPools\":", $"\"wafPolicies\": [ {policy} ], \"defaultWafPolicy\": \"p\", \"wafAuditLog\": {{ \"path\": {JsonSerializer.Serialize(Path.Combine(folder.Path, "waf.log"))}, \"console\": false }}, \"workerPools\":");
            var gateway = await TestGateway.StartAsync(json, output);
            return new Setup(folder, backend, gateway);
        }

        /// <summary>POSTs an albedo reflection spec; the worker answers as it says.</summary>
        public async Task<HttpResponseMessage> ReflectAsync(object spec)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Gateway.Url, "/reflect"))
            {
                Content = new StringContent(JsonSerializer.Serialize(spec), Encoding.UTF8, "application/json"),
            };
            request.Headers.Host = TestConfigs.AppHost;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var response = await Client.SendAsync(request, timeout.Token);
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            return response;
        }

        /// <summary>The audit log reports a finding once written, which can be after the response reached the client.</summary>
        public async Task WaitForFindingAsync(Func<AseGateway.Waf.WafFinding, bool> match)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (!Findings.Any(match))
            {
                try
                {
                    await _written.WaitAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"no matching finding within 10 s; findings: {string.Join(", ", Findings.Select(f => $"{f.RuleId} {f.Action}"))}");
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Gateway.DisposeAsync();
            await Backend.DisposeAsync();
            _folder.Dispose();
        }
    }
}
