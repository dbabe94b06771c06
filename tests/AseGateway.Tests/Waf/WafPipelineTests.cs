using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using AseGateway.Waf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace AseGateway.Tests.Waf;

/// <summary>WAF policies gating real requests through the gateway.</summary>
public sealed class WafPipelineTests(ITestOutputHelper output)
{
    private static string WithPolicy(string json, string policy, string audit = "") => json
        .Replace("\"workerPools\":", $"\"wafPolicies\": [ {policy} ], \"defaultWafPolicy\": \"p\", {audit} \"workerPools\":");

    private const string EvilBotRule = """
        { "name": "blockEvilBot", "priority": 2, "ruleType": "MatchRule", "action": "Block",
          "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders", "selector": "User-Agent" } ],
            "operator": "Contains", "matchValues": [ "evilbot" ], "transforms": [ "Lowercase" ] } ] }
        """;

    private static string Policy(string mode = "Prevention", string customRules = EvilBotRule, string managed = "", string settings = "", string hooks = "") => $$"""
        { "name": "p", "policySettings": { "mode": "{{mode}}" {{settings}} },
          "customRules": [ {{customRules}} ]
          {{(managed.Length > 0 ? $", \"managedRules\": {managed}" : string.Empty)}}
          {{(hooks.Length > 0 ? $", \"hooks\": {hooks}" : string.Empty)}} }
        """;

    private const string AseDefault = """{ "managedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0" } ] }""";

    [Fact]
    public async Task Prevention_CustomBlockRule_Returns403WithTransactionId_WorkerNeverSeesIt()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static(backends.List), Policy()), output);

        using var blocked = await gateway.GetAsync(TestConfigs.AppHost, configure: r => r.Headers.Add("User-Agent", "EvilBot/1.0"));
        var body = await blocked.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        Assert.Contains("web application firewall (transaction ", body);
        // The request's trace identifier, read when the block needs it (Kestrel's "connection:request number").
        Assert.Matches(@"\(transaction [0-9A-Z]+:[0-9A-F]{8}\)", body);
        Assert.Equal(0, backends.List[0].RequestCount);
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost, configure: r => r.Headers.Add("User-Agent", "curl/8")));
    }

    [Fact]
    public async Task Detection_NothingBlocked_EveryMatchAudited()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        var auditPath = Path.Combine(folder.Path, "waf.log");
        var json = WithPolicy(TestConfigs.Static(backends.List), Policy(mode: "Detection", managed: AseDefault), $"\"wafAuditLog\": {{ \"path\": {JsonSerializer.Serialize(auditPath)} }},");
        await using (var gateway = await TestGateway.StartAsync(json, output))
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, "/search?q=1'%20or%201=1--&password=hunter2", r => r.Headers.Add("User-Agent", "evilbot"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var lines = File.ReadAllLines(auditPath).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("properties")).ToList();
        Assert.Contains(lines, l => l.GetProperty("ruleId").GetString() == "blockEvilBot" && l.GetProperty("action").GetString() == "Detected");
        Assert.Contains(lines, l => l.GetProperty("ruleId").GetString() == "942100" && l.GetProperty("ruleSetType").GetString() == "AseDefault");
        Assert.Contains(lines, l => l.GetProperty("ruleId").GetString() == "949110" && l.GetProperty("action").GetString() == "Detected");
        Assert.All(lines, l => Assert.Equal("p", l.GetProperty("policyId").GetString()));
        Assert.DoesNotContain("hunter2", File.ReadAllText(auditPath));
    }

    [Fact]
    public async Task AllowRule_EndsEvaluation_BeforeManagedRules()
    {
        await using var backends = await Backends.StartAsync(1);
        var allowTrusted = """
            { "name": "allowScanner", "priority": 1, "ruleType": "MatchRule", "action": "Allow",
              "matchConditions": [ { "matchVariables": [ { "variableName": "RemoteAddr" } ], "operator": "IPMatch", "matchValues": [ "127.0.0.2" ] } ] }
            """;
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static(backends.List), Policy(customRules: allowTrusted, managed: AseDefault)), output);

        using var trusted = await LoopbackClient.GetAsync(IPAddress.Parse("127.0.0.2"), gateway.Url, TestConfigs.AppHost, r => r.RequestUri = new Uri(gateway.Url, "/?id=1%20union%20select%20password"));
        using var other = await LoopbackClient.GetAsync(IPAddress.Parse("127.0.0.3"), gateway.Url, TestConfigs.AppHost, r => r.RequestUri = new Uri(gateway.Url, "/?id=1%20union%20select%20password"));

        Assert.Equal(HttpStatusCode.OK, trusted.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
    }

    [Theory]
    [InlineData("/?q=%3Cscript%3Ealert(1)%3C/script%3E", "", HttpStatusCode.Forbidden)]
    [InlineData("/download?file=../../etc/passwd", "", HttpStatusCode.Forbidden)]
    [InlineData("/?q=%3Cscript%3Ealert(1)%3C/script%3E", """, "ruleGroupOverrides": [ { "ruleGroupName": "XSS", "rules": [ { "ruleId": "941100", "state": "Disabled" } ] } ]""", HttpStatusCode.OK)]
    [InlineData("/?q=%3Cscript%3Ealert(1)%3C/script%3E", """, "ruleGroupOverrides": [ { "ruleGroupName": "XSS", "rules": [ { "ruleId": "941100", "action": "Log" } ] } ]""", HttpStatusCode.OK)]
    [InlineData("/?q=hello", """, "ruleGroupOverrides": [ { "ruleGroupName": "PROTOCOL-ENFORCEMENT", "rules": [ { "ruleId": "920350", "action": "Block" } ] } ]""", HttpStatusCode.OK)]
    public async Task ManagedRules_AnomalyScoringAndOverrides(string target, string overrides, HttpStatusCode expected)
    {
        await using var backends = await Backends.StartAsync(1);
        var managed = $$"""{ "managedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0" {{overrides}} } ] }""";
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static(backends.List), Policy(customRules: string.Empty, managed: managed)), output);

        using var response = await gateway.GetAsync(TestConfigs.AppHost, target);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Exclusion_ForOneArgument_LetsItsValueThrough_OthersStillInspected()
    {
        await using var backends = await Backends.StartAsync(1);
        var managed = """
            { "managedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0" } ],
              "exclusions": [ { "matchVariable": "RequestArgNames", "selectorMatchOperator": "Equals", "selector": "html",
                "exclusionManagedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0", "ruleGroups": [ { "ruleGroupName": "XSS" } ] } ] } ] }
            """;
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static(backends.List), Policy(customRules: string.Empty, managed: managed)), output);

        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync(TestConfigs.AppHost, "/?html=%3Cscript%3Ex%3C/script%3E")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync(TestConfigs.AppHost, "/?other=%3Cscript%3Ex%3C/script%3E")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync(TestConfigs.AppHost, "/?html=1'%20or%20'a'='a")).StatusCode);
    }

    [Fact]
    public async Task RawBodies_AttackBlocked_WhereverItSits_CleanAndNonAsciiPass()
    {
        // An unparsed body is matched as text. Its bytes are first checked for the characters a match needs, so the
        // attack must be found wherever it sits in a body that is otherwise clean, after non-ASCII text too.
        await using var backends = await HashingBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static([backends.Backend]), Policy(customRules: string.Empty, managed: AseDefault)), output);
        var filler = new string('a', 20_000);

        foreach (var attack in new[] { "; cat /etc/passwd" + filler, filler + "x; cat y", "caf\u00e9 \u00fcber" + filler + "`whoami`" })
        {
            using var blocked = await Post(gateway, "application/octet-stream", attack);
            Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        }

        foreach (var clean in new[] { filler, "caf\u00e9 \u00fcber " + filler })
        {
            await AssertReachesTheWorkerIntactAsync(gateway, "application/octet-stream", clean);
        }
    }

    [Fact]
    public async Task InspectedUpload_ToAWorkerThatIsNotReadingYet_ArrivesWhole()
    {
        // The inspected part is sent from the WAF's array and the rest from the client's connection while the worker's
        // socket takes them; the worker reads nothing until released, so parts wait in the connection's pipe, and
        // what follows must queue behind them.
        var body = new byte[8 * 1024 * 1024];
        new Random(5).NextBytes(body);
        await using var backends = await HashingBackend.StartAsync();
        var settings = """, "requestBodyEnforcement": false, "requestBodyInspectLimitInKB": 128""";
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static([backends.Backend]), Policy(customRules: string.Empty, managed: AseDefault, settings: settings)), output);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.Url, "/slow")) { Content = new ByteArrayContent(body) };
        request.Headers.Host = TestConfigs.AppHost;
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        var sending = client.SendAsync(request);

        await backends.Backend.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await Task.Delay(300);
        Assert.False(sending.IsCompleted, "the upload finished while the worker read nothing");
        backends.Backend.ReleaseSlow.TrySetResult();

        using var response = await sending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task LargeBody_InspectedUpToTheLimit_TheRestSentOnUninspected()
    {
        // As on Azure's WAF, the rules see the first requestBodyInspectLimitInKB of a body: an attack there is
        // blocked, one past it goes through, and either way the worker gets every byte (sent from the WAF's array,
        // then from the client).
        await using var backends = await HashingBackend.StartAsync();
        var settings = """, "maxRequestBodySizeInKb": 1024, "requestBodyInspectLimitInKB": 8""";
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static([backends.Backend]), Policy(customRules: string.Empty, managed: AseDefault, settings: settings)), output);
        var filler = new string('a', 100_000);

        using var early = await Post(gateway, "application/octet-stream", "x; cat /etc/passwd " + filler);
        Assert.Equal(HttpStatusCode.Forbidden, early.StatusCode);

        var late = filler + "x; cat /etc/passwd";
        await AssertReachesTheWorkerIntactAsync(gateway, "application/octet-stream", late);

        // A client that stops inside the inspected part, or past it, costs only its own request.
        foreach (var sent in new[] { 4_000, 50_000 })
        {
            using (var client = new System.Net.Sockets.TcpClient())
            {
                await client.ConnectAsync(gateway.Url.Host, gateway.Url.Port);
                var stream = client.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"));
                await stream.WriteAsync(Encoding.ASCII.GetBytes(filler[..sent]));
                await Task.Delay(100);
            }

            await AssertReachesTheWorkerIntactAsync(gateway, "application/octet-stream", late);
        }
    }

    [Fact]
    public async Task Bodies_JsonAttackBlocked_CleanFormReachesWorkerByteIdentical_OversizedIs413()
    {
        await using var backends = await HashingBackend.StartAsync();
        var settings = """, "maxRequestBodySizeInKb": 16, "requestBodyInspectLimitInKB": 8""";
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static([backends.Backend]), Policy(customRules: string.Empty, managed: AseDefault, settings: settings)), output);

        using var attack = await Post(gateway, "application/json", """{"user":{"name":"x' OR 'a'='a"}}""");
        Assert.Equal(HttpStatusCode.Forbidden, attack.StatusCode);

        var form = "name=alice&comment=" + new string('x', 12_000) + "&end=1";
        await AssertReachesTheWorkerIntactAsync(gateway, "application/x-www-form-urlencoded", form);

        using var oversized = await Post(gateway, "application/octet-stream", new string('y', 20_000));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversized.StatusCode);

        using var chunked = await Post(gateway, "application/octet-stream", new string('y', 20_000), chunked: true);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public async Task Bodies_KeptForInspection_ReachTheWorkerByteIdentical_InMemoryAndInAFile(bool enforcement, bool fastPath)
    {
        // The WAF keeps the body to inspect it and the proxy (the fast path, or YARP) sends it on from there: with a
        // Content-Length, its first 8 KB (the inspection limit; all of it when it fits) in one pooled array, the
        // rest from the client as it is sent on. Without one (chunked), buffered in memory to 64 KiB, then in a file;
        // with enforcement the whole body is read first.
        await using var backends = await HashingBackend.StartAsync();
        var settings = $$""", "requestBodyEnforcement": {{(enforcement ? "true" : "false")}}, "maxRequestBodySizeInKb": 1024, "requestBodyInspectLimitInKB": 8""";
        var config = WithPolicy(TestConfigs.Static([backends.Backend]), Policy(customRules: string.Empty, managed: AseDefault, settings: settings))
            .Replace("\"trustedForwarders\":", $"\"forwarding\": {{ \"fastPath\": {(fastPath ? "true" : "false")} }}, \"trustedForwarders\":");
        await using var gateway = await TestGateway.StartAsync(config, output);

        foreach (var size in new[] { 5_000, 8_184, 40_000, 300_000 })
        {
            var body = "comment=" + string.Create(size, size, static (span, seed) =>
            {
                var random = new Random(seed);
                for (var i = 0; i < span.Length; i++)
                {
                    span[i] = (char)('a' + random.Next(26));
                }
            });
            await AssertReachesTheWorkerIntactAsync(gateway, "application/x-www-form-urlencoded", body);

            // Without a Content-Length the body is always buffered; the rules' part of it, up to the limit, is read
            // into a pooled array of the limit's size, shorter bodies and longer ones alike.
            await AssertReachesTheWorkerIntactAsync(gateway, "application/x-www-form-urlencoded", body, chunked: true);
        }
    }

    [Fact]
    public async Task RateLimitRule_PerClientAddress_BlocksOverThreshold()
    {
        await using var backends = await Backends.StartAsync(1);
        var rule = """
            { "name": "throttle", "priority": 5, "ruleType": "RateLimitRule", "action": "Block", "rateLimitDuration": "OneMin", "rateLimitThreshold": 3,
              "groupByUserSession": [ { "groupByVariables": [ { "variableName": "ClientAddr" } ] } ],
              "matchConditions": [ { "matchVariables": [ { "variableName": "RequestUri" } ], "operator": "BeginsWith", "matchValues": [ "/api" ] } ] }
            """;
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static(backends.List), Policy(customRules: rule)), output);
        var two = IPAddress.Parse("127.0.0.2");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await LoopbackClient.GetAsync(two, new Uri(gateway.Url, "/api/orders"), TestConfigs.AppHost);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden], statuses);
        Assert.Equal(HttpStatusCode.OK, (await LoopbackClient.GetAsync(IPAddress.Parse("127.0.0.3"), new Uri(gateway.Url, "/api/orders"), TestConfigs.AppHost)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoopbackClient.GetAsync(two, new Uri(gateway.Url, "/home"), TestConfigs.AppHost)).StatusCode);
    }

    [Theory]
    [InlineData("/block-me", "Allow", HttpStatusCode.Forbidden)]
    [InlineData("/fine", "Allow", HttpStatusCode.OK)]
    [InlineData("/slow-inspection", "Allow", HttpStatusCode.OK)]
    [InlineData("/slow-inspection", "Block", HttpStatusCode.Forbidden)]
    [InlineData("/fail", "Block", HttpStatusCode.Forbidden)]
    [InlineData("/fail", "Allow", HttpStatusCode.OK)]
    public async Task ExternalHook_DecidesOrFailsOpenOrClosed(string path, string onError, HttpStatusCode expected)
    {
        await using var inspector = await Inspector.StartAsync();
        await using var backends = await Backends.StartAsync(1);
        // 1 s against the inspector's 5 s on /slow-inspection: 300 ms ran out on a loaded machine before the inspector
        // had read the call, which then never reached it.
        var hooks = $$"""[ { "name": "corp-inspector", "url": "{{inspector.Url}}inspect", "timeoutMs": 1000, "onError": "{{onError}}" } ]""";
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static(backends.List), Policy(customRules: string.Empty, hooks: hooks)), output);

        using var response = await gateway.GetAsync(TestConfigs.AppHost, path);

        Assert.Equal(expected, response.StatusCode);

        // A hook that timed out may record the call after the gateway has answered: wait (bounded) for it.
        await inspector.WaitForAsync(path, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Http2_HeaderRuleScannerAndCookieAttack_Blocked_CleanRequestsPassUnrecorded()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        var auditPath = Path.Combine(folder.Path, "waf.log");
        var json = WithPolicy(TestConfigs.WithH2c(TestConfigs.Static(backends.List, affinity: true)), Policy(managed: AseDefault), $"\"wafAuditLog\": {{ \"path\": {JsonSerializer.Serialize(auditPath)} }},");
        await using (var gateway = await TestGateway.StartAsync(json, output))
        {
            // A load generator's requests: its User-Agent, no cookies. They pass, and nothing is audited for them.
            for (var i = 0; i < 3; i++)
            {
                using var clean = await gateway.GetHttp2Async(TestConfigs.AppHost, configure: r => r.Headers.TryAddWithoutValidation("User-Agent", "h2load nghttp2/1.52.0"));
                Assert.Equal(HttpStatusCode.OK, clean.StatusCode);
                Assert.Equal("b0", await clean.Content.ReadAsStringAsync());
            }

            using var evilBot = await gateway.GetHttp2Async(TestConfigs.AppHost, configure: r => r.Headers.TryAddWithoutValidation("User-Agent", "EvilBot/2.0"));
            using var scanner = await gateway.GetHttp2Async(TestConfigs.AppHost, configure: r => r.Headers.TryAddWithoutValidation("User-Agent", "sqlmap/1.7.2#stable"));
            using var cookie = await gateway.GetHttp2Async(TestConfigs.AppHost, configure: r => r.Headers.Add("Cookie", "theme=dark; user=admin'--"));
            Assert.Equal(HttpStatusCode.Forbidden, evilBot.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, scanner.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, cookie.StatusCode);
            Assert.Equal(3, backends.List[0].RequestCount);
        }

        var rules = File.ReadAllLines(auditPath).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("properties").GetProperty("ruleId").GetString()).ToList();
        Assert.Contains("blockEvilBot", rules);
        Assert.Contains("913100", rules);
        Assert.Contains("942100", rules);
        Assert.DoesNotContain(File.ReadAllLines(auditPath), l => l.Contains("h2load", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InProcessHook_RegisteredByTheHost_BlocksAndSeesParsedArgs()
    {
        await using var backends = await Backends.StartAsync(1);
        var hook = new ArgumentHook();
        await using var gateway = await TestGateway.StartAsync(WithPolicy(TestConfigs.Static(backends.List), Policy(customRules: string.Empty)), output, wafHooks: [hook]);

        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync(TestConfigs.AppHost, "/?coupon=OK10")).StatusCode);
        using var blocked = await gateway.GetAsync(TestConfigs.AppHost, "/?coupon=STOLEN");

        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        Assert.Equal(["OK10", "STOLEN"], hook.Coupons);
    }

    /// <summary>Posts <paramref name="body"/>: it passes (200) and the worker (a <see cref="HashingBackend"/>) got every byte.</summary>
    private static async Task AssertReachesTheWorkerIntactAsync(TestGateway gateway, string contentType, string body, bool chunked = false)
    {
        using var response = await Post(gateway, contentType, body, chunked);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body))), await response.Content.ReadAsStringAsync());
    }

    private static async Task<HttpResponseMessage> Post(TestGateway gateway, string contentType, string body, bool chunked = false)
    {
        using var content = new StringContent(body, new UTF8Encoding(false));
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        if (chunked)
        {
            return await gateway.GetAsync(TestConfigs.AppHost, "/upload", r =>
            {
                r.Method = HttpMethod.Post;
                r.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
                r.Headers.TransferEncodingChunked = true;
            });
        }

        return await gateway.GetAsync(TestConfigs.AppHost, "/upload", r =>
        {
            r.Method = HttpMethod.Post;
            r.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            r.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        });
    }

    private sealed class ArgumentHook : IWafHook
    {
        public List<string> Coupons { get; } = [];

        public string Name => "coupon-check";

        public TimeSpan Budget => TimeSpan.FromSeconds(1);

        public AseGateway.Configuration.WafAction OnError => AseGateway.Configuration.WafAction.Allow;

        public ValueTask<WafHookResult> InspectAsync(WafRequest request, CancellationToken cancellationToken)
        {
            var coupon = request.QueryArgs.FirstOrDefault(a => a.Key == "coupon").Value ?? string.Empty;
            lock (Coupons)
            {
                Coupons.Add(coupon);
            }

            return ValueTask.FromResult(coupon == "STOLEN" ? new WafHookResult(AseGateway.Configuration.WafAction.Block, "COUPON-1", "stolen coupon") : WafHookResult.Allow);
        }
    }

    /// <summary>A worker that answers with the SHA-256 of the body it received.</summary>
    private sealed class HashingBackend : IAsyncDisposable
    {
        private HashingBackend(TestBackend backend) => Backend = backend;

        public TestBackend Backend { get; }

        public static async Task<HashingBackend> StartAsync() => new(await TestBackend.StartAsync("hash", hashBodies: true));

        public ValueTask DisposeAsync() => Backend.DisposeAsync();
    }

    /// <summary>An external inspector: blocks /block-me, is slow on /slow-inspection, fails on /fail.</summary>
    private sealed class Inspector : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Inspector(WebApplication app) => _app = app;

        public Uri Url { get; private set; } = null!;

        public System.Collections.Concurrent.ConcurrentBag<string> Seen { get; } = [];

        private SemaphoreSlim Arrived { get; } = new(0);

        public async Task WaitForAsync(string path, TimeSpan timeout)
        {
            using var deadline = new CancellationTokenSource(timeout);
            while (!Seen.Any(s => s.Contains($"\"uri\":\"{path}\"", StringComparison.Ordinal)))
            {
                await Arrived.WaitAsync(deadline.Token);
            }
        }

        public static async Task<Inspector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var inspector = new Inspector(app);
            app.MapPost("/inspect", async (HttpContext context) =>
            {
                using var reader = new StreamReader(context.Request.Body);
                var payload = await reader.ReadToEndAsync();
                inspector.Seen.Add(payload);
                inspector.Arrived.Release();
                var uri = JsonDocument.Parse(payload).RootElement.GetProperty("uri").GetString();
                switch (uri)
                {
                    case "/block-me":
                        return Results.Text("known attacker", statusCode: 403);
                    case "/slow-inspection":
                        await Task.Delay(TimeSpan.FromSeconds(5), context.RequestAborted);
                        return Results.Ok();
                    case "/fail":
                        return Results.StatusCode(500);
                    default:
                        return Results.Ok();
                }
            });
            await app.StartAsync();
            inspector.Url = new Uri(app.Urls.First().TrimEnd('/') + "/");
            return inspector;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            Arrived.Dispose();
        }
    }
}
