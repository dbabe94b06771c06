using System.Net;
using System.Net.Http.Json;
using System.Text;
using AseGateway.Control;
using AseGateway.Management;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Metrics;

/// <summary>
/// /metrics on the management listener after a scripted traffic mix through a real gateway: two apps, a 404, an
/// access-restriction 403, a WAF block, an NSG denial, a config change applied and one refused.
/// </summary>
public sealed class MetricsEndpointTests(ITestOutputHelper output)
{
    private static readonly IPAddress Two = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Three = IPAddress.Parse("127.0.0.3");

    private static string Config(List<TestBackend> backends, bool metricsRequireApiKey = true) => TestConfigs.WithApiKey($$"""
        {
          "name": "metrics-ase",
          "dnsSuffix": "ase.test",
          "frontEnd": { "listeners": [ { "name": "http", "address": "127.0.0.1", "port": 0, "protocol": "Http" }, { "name": "h2c", "address": "127.0.0.1", "port": 0, "protocol": "Http2" } ] },
          "healthCheck": { "intervalSeconds": 1, "timeoutSeconds": 1, "maxPingFailures": 2 },
          "networkSecurityGroup": { "securityRules": [
            { "name": "DenyThree", "priority": 100, "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "127.0.0.3", "destinationPortRange": "*" } ] },
          "wafPolicies": [ { "name": "edge", "policySettings": { "mode": "Prevention" }, "customRules": [
            { "name": "blockEvilBot", "priority": 2, "ruleType": "MatchRule", "action": "Block",
              "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders", "selector": "User-Agent" } ],
                "operator": "Contains", "matchValues": [ "evilbot" ], "transforms": [ "Lowercase" ] } ] } ] } ],
          "workerPools": [ { "name": "WP1", "workerSize": "Small", "workerCount": 2,
            "workers": [ { "address": "{{backends[0].Url}}" }, { "address": "{{backends[1].Url}}" } ] } ],
          "plans": [ { "name": "web-plan", "workerPool": "WP1", "instanceCount": 1 }, { "name": "shop-plan", "workerPool": "WP1", "instanceCount": 1 } ],
          "apps": [
            { "name": "web", "plan": "web-plan", "hostNames": [ "web.contoso.test" ], "healthCheckPath": "/healthz", "clientAffinityEnabled": false, "wafPolicy": "edge" },
            { "name": "shop", "plan": "shop-plan", "hostNames": [ "shop.contoso.test" ], "healthCheckPath": "/healthz", "clientAffinityEnabled": false,
              "accessRestrictions": { "defaultAction": "Allow", "rules": [ { "name": "blockTwo", "priority": 100, "action": "Deny", "ipAddress": "127.0.0.2/32" } ] } }
          ],
          "management": { "address": "127.0.0.1", "port": 0 }
        }
        """).Replace("\"port\": 0, \"apiKeys\"", $"\"port\": 0, \"metricsRequireApiKey\": {(metricsRequireApiKey ? "true" : "false")}, \"apiKeys\"");

    [Fact]
    public async Task TrafficMix_IsExportedByAppInstanceStatusAndRule_OnlyWithTheKey()
    {
        await using var backends = await Backends.StartAsync(2);
        var json = Config(backends.List);
        var source = new InMemoryConfigSource(Encoding.UTF8.GetBytes(json), "metrics test", AppContext.BaseDirectory);
        await using var gateway = await TestGateway.StartAsync(source, output);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("web.contoso.test")).StatusCode);
        }

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("shop.contoso.test")).StatusCode);
        }

        // An HTTP/2 stream queues for a pool thread (kestrel.queued_requests), which an HTTP/1.1 request never does.
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetHttp2Async("shop.contoso.test")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await gateway.GetAsync("nobody.contoso.test")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await LoopbackClient.GetAsync(Two, gateway.Url, "shop.contoso.test")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync("web.contoso.test", configure: r => r.Headers.Add("User-Agent", "EvilBot/2"))).StatusCode);
        Assert.True(await LoopbackClient.IsRefusedAsync(Three, gateway.Url));

        // One change applied, one refused (the same road a file edit takes).
        await source.WriteAsync(Encoding.UTF8.GetBytes(json.Replace("[ \"web.contoso.test\" ]", "[ \"web.contoso.test\", \"www.contoso.test\" ]")), CancellationToken.None);
        Assert.Equal(ConfigChangeOutcome.Applied, (await gateway.Server.Config.ReloadAsync("test")).Outcome);
        await source.WriteAsync(Encoding.UTF8.GetBytes("{ \"name\": 1 }"), CancellationToken.None);
        Assert.Equal(ConfigChangeOutcome.Invalid, (await gateway.Server.Config.ReloadAsync("test")).Outcome);

        using var anonymous = new HttpClient { BaseAddress = gateway.Server.ManagementUrl };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);

        using var api = gateway.ManagementClient();
        using var scrape = await api.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        // A request is counted once Kestrel has written the end of its answer, just after the client has it.
        var samples = await ScrapeUntilAsync(api, s => s.Sum("ase_request_duration_seconds_count") >= 9);

        // Requests by app, instance, status class and protocol; the 404 matched no app.
        Assert.Equal(3, samples.Sum("ase_requests_total", ("app", "web"), ("app_instance", "web/web-plan/0"), ("status_class", "2xx"), ("protocol", "HTTP/1.1")));
        Assert.Equal(1, samples.Sum("ase_requests_total", ("app", "web"), ("app_instance", "(none)"), ("status_class", "4xx")));
        Assert.Equal(2, samples.Sum("ase_requests_total", ("app", "shop"), ("app_instance", "shop/shop-plan/0"), ("status_class", "2xx"), ("protocol", "HTTP/1.1")));
        Assert.Equal(1, samples.Sum("ase_requests_total", ("app", "shop"), ("app_instance", "shop/shop-plan/0"), ("status_class", "2xx"), ("protocol", "HTTP/2")));
        Assert.Equal(1, samples.Sum("ase_requests_total", ("app", "shop"), ("status_class", "4xx")));
        Assert.Equal(1, samples.Sum("ase_requests_total", ("app", "(none)"), ("status_class", "4xx")));
        Assert.Equal(4, samples.Sum("ase_request_duration_seconds_count", ("app", "web")));
        Assert.Equal(4, samples.Sum("ase_request_duration_seconds_bucket", ("app", "web"), ("le", "+Inf")));
        Assert.Equal(3, samples.Sum("ase_upstream_duration_seconds_count", ("app", "web"), ("app_instance", "web/web-plan/0"), ("outcome", "ok")));

        // Refusals, from the counters the gateway already kept.
        Assert.Equal(1, samples.Sum("ase_access_denied_requests_total", ("app", "shop"), ("rule", "blockTwo")));
        Assert.Equal(1, samples.Sum("ase_waf_matches_total", ("policy", "edge"), ("rule_id", "blockEvilBot"), ("action", "Blocked")));
        Assert.True(samples.Sum("ase_nsg_denied_connections_total", ("rule", "DenyThree")) >= 1);

        // Instances, health, configuration, connections.
        Assert.Equal(1, samples.Sum("ase_instances", ("app", "web"), ("plan", "web-plan"), ("pool", "WP1"), ("state", "healthy")));
        Assert.Equal(0, samples.Sum("ase_instances", ("app", "web"), ("state", "draining")));
        Assert.Single(samples.Find("ase_instance_in_flight", ("app", "shop"), ("app_instance", "shop/shop-plan/0")));
        Assert.True(samples.Sum("ase_health_checks_total", ("app", "web"), ("app_instance", "web/web-plan/0"), ("result", "healthy")) >= 1);
        Assert.Equal(1, samples.Sum("ase_config_reloads_total", ("result", "ok")));
        Assert.Equal(1, samples.Sum("ase_config_reloads_total", ("result", "failed")));
        Assert.Equal(2, samples.Sum("ase_config_generation"));
        Assert.Equal(0, samples.Sum("ase_config_last_reload_success"));
        Assert.True(samples.Sum("ase_config_last_reload_time_seconds") > 1.7e9);
        Assert.Single(samples.Find("ase_connections_open", ("listener", "http")));

        // Every request answered has one duration; every forwarded one an upstream duration. The framework's per-request
        // histograms that would say the same are not listened to; Kestrel's and the HttpClient's connection series are.
        Assert.Equal(9, samples.Sum("ase_request_duration_seconds_count"));
        Assert.Equal(6, samples.Sum("ase_upstream_duration_seconds_count"));
        Assert.Empty(samples.Find("http_server_request_duration_seconds_count"));
        Assert.Empty(samples.Find("http_client_request_duration_seconds_count"));
        Assert.NotEmpty(samples.Find("kestrel_active_connections", ("server_port", gateway.Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        Assert.NotEmpty(samples.Find("kestrel_active_connections", ("server_port", gateway.Server.ListenerUrls["h2c"].Port.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        Assert.Empty(samples.Find("kestrel_queued_requests"));
        Assert.DoesNotContain(samples, s => s.Name.StartsWith("http_client_", StringComparison.Ordinal) && (s.Labels.ContainsKey("server_port") || s.Labels.ContainsKey("server_address")));

        // Nothing from the management listener itself, and no per-client or per-URL label anywhere.
        Assert.DoesNotContain(samples, s => s.Labels.TryGetValue("http_route", out var route) && route.StartsWith("/api", StringComparison.Ordinal));
        Assert.DoesNotContain(samples, s => s.Labels.Keys.Any(k => k is "client_address" or "network_peer_address" or "url_path" or "url_full"));
    }

    [Fact]
    public async Task OpenMetricsScrape_HasTheHistogramsWithTheirUnit_AndEndsWithOneEof()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(Config(backends.List), output);
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("web.contoso.test")).StatusCode);

        using var api = gateway.ManagementClient();
        await ScrapeUntilAsync(api, s => s.Sum("ase_request_duration_seconds_count", ("app", "web")) >= 1);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
        using var scrape = await api.SendAsync(request);
        Assert.Equal("application/openmetrics-text", scrape.Content.Headers.ContentType!.MediaType);
        var text = await scrape.Content.ReadAsStringAsync();

        Assert.EndsWith("\n# EOF\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), line => line == "# EOF");
        Assert.Equal(scrape.Content.Headers.ContentLength, System.Text.Encoding.UTF8.GetByteCount(text));
        Assert.Contains("# UNIT ase_request_duration_seconds seconds\n", text, StringComparison.Ordinal);
        Assert.Contains("# UNIT ase_upstream_duration_seconds seconds\n", text, StringComparison.Ordinal);
        var samples = PrometheusText.Parse(text);
        Assert.Equal(1, samples.Sum("ase_request_duration_seconds_bucket", ("app", "web"), ("le", "+Inf")));
        Assert.Equal(1, samples.Sum("ase_upstream_duration_seconds_count", ("app", "web"), ("outcome", "ok")));
    }

    [Fact]
    public async Task MetricsRequireApiKeyFalse_ScrapeWithoutKey_RestOfApiStillNeedsIt_KeyInUrlRefused()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(Config(backends.List, metricsRequireApiKey: false), output);
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("web.contoso.test")).StatusCode);

        using var anonymous = new HttpClient { BaseAddress = gateway.Server.ManagementUrl };
        using var scrape = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        var samples = await ScrapeUntilAsync(anonymous, s => s.Sum("ase_requests_total", ("app", "web")) >= 1);
        Assert.Equal(1, samples.Sum("ase_requests_total", ("app", "web")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/apps")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/stats")).StatusCode);

        // A key in a URL is refused outright, even with a valid key in the header.
        using var api = gateway.ManagementClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/metrics?api_key={TestConfigs.ApiKey}")).StatusCode);
        using var keyInUrl = await api.GetAsync($"/api/stats?key={TestConfigs.ApiKey}");
        Assert.Equal(HttpStatusCode.Unauthorized, keyInUrl.StatusCode);
        Assert.Contains("never accepted in a URL", await keyInUrl.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/stats")).StatusCode);
    }

    [Fact]
    public async Task Stats_CumulativeCountersAndRecentRefusals_ForTheDashboard()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(Config(backends.List), output);
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("web.contoso.test")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync("web.contoso.test", configure: r => r.Headers.Add("User-Agent", "evilbot"))).StatusCode);
        Assert.True(await LoopbackClient.IsRefusedAsync(Three, gateway.Url));

        using var api = gateway.ManagementClient();
        var stats = await api.GetFromJsonAsync<StatsDto>("/api/stats");

        var web = stats!.Apps.Single(a => a.App == "web");
        Assert.Equal(2, web.Requests);
        Assert.Equal(1, web.ClientErrors);
        Assert.Equal(0, stats.Apps.Single(a => a.App == "shop").Requests);
        var block = Assert.Single(stats.RecentWafBlocks);
        Assert.Equal(("edge", "blockEvilBot", "web.contoso.test"), (block.Policy, block.RuleId, block.Host));
        var denial = stats.RecentNsgDenials[0];
        Assert.Equal(("DenyThree", "127.0.0.3", gateway.Url.Port), (denial.Rule, denial.Source, denial.Port));
    }
    [Fact]
    public async Task HttpsListener_HandshakesByResult_RequestsByProtocol_ConnectionsByListener()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = HttpsListenerTests.ForContoso(HttpsListenerTests.WithHttps(TestConfigs.WithApiKey(TestConfigs.Static(backends.List))));
        await using var gateway = await TestGateway.StartAsync(json, output);
        var https = gateway.Server.ListenerUrls["https"];

        using var client = DevCa.TrustingClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, https) { Version = HttpVersion.Version20 };
        request.Headers.Host = "web.contoso.com";
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);

        // Plain HTTP to the HTTPS port: the handshake fails and the connection ends.
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(https.Host, https.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync("GET / HTTP/1.1\r\nHost: web.contoso.com\r\n\r\n"u8.ToArray());
            var buffer = new byte[256];
            while (await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(15)) > 0)
            {
            }
        }

        using var api = gateway.ManagementClient();
        var samples = await ScrapeUntilAsync(api, s => s.Sum("ase_tls_handshakes_total", ("listener", "https"), ("result", "failed")) >= 1);
        Assert.Equal(1, samples.Sum("ase_tls_handshakes_total", ("listener", "https"), ("result", "ok")));
        Assert.Equal(1, samples.Sum("ase_requests_total", ("app", "web"), ("status_class", "2xx"), ("protocol", "HTTP/2")));
        Assert.Single(samples.Find("ase_connections_open", ("listener", "https")));
    }

    /// <summary>Scrapes until <paramref name="condition"/> holds (a closed connection is counted as it ends), bounded.</summary>
    private static async Task<List<PrometheusSample>> ScrapeUntilAsync(HttpClient api, Func<List<PrometheusSample>, bool> condition)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var samples = PrometheusText.Parse(await api.GetStringAsync("/metrics", deadline.Token));
            if (condition(samples))
            {
                return samples;
            }

            await Task.Delay(100, deadline.Token);
        }
    }
}
