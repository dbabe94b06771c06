using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Management;

public sealed class ManagementApiTests(ITestOutputHelper output)
{
    private const string AdminKey = "admin-key-for-tests";
    private const string ReaderKey = "reader-key-for-tests";

    [Fact]
    public async Task Calls_WithoutValidKey_Get401_WithKey_Succeed()
    {
        await using var env = await Env.StartAsync(output, backends: 1);

        Assert.Equal(HttpStatusCode.OK, (await env.Send(HttpMethod.Get, "/healthz", key: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await env.Send(HttpMethod.Get, "/api/environment", key: null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await env.Send(HttpMethod.Get, "/api/environment", key: "wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await env.Send(HttpMethod.Get, $"/api/environment?api_key={AdminKey}&key={AdminKey}", key: null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await env.Send(HttpMethod.Get, "/api/environment", AdminKey)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await env.Send(HttpMethod.Get, "/api/environment", AdminKey, bearer: false)).StatusCode);

        var unauthorized = await env.Send(HttpMethod.Get, "/api/apps", key: "wrong");
        Assert.Equal("application/problem+json", unauthorized.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(AdminKey, await unauthorized.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ReaderKey_CanRead_CannotChange()
    {
        await using var env = await Env.StartAsync(output, backends: 1);

        Assert.Equal(HttpStatusCode.OK, (await env.Send(HttpMethod.Get, "/api/workerPools", ReaderKey)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await env.Send(HttpMethod.Post, "/api/config/reload", ReaderKey)).StatusCode);
    }

    [Fact]
    public async Task Environment_Pools_Plans_Apps_Instances_DescribeTheRunningEnvironment()
    {
        await using var env = await Env.StartAsync(output, backends: 3, workerCount: 3, instanceCount: 2);

        using var environment = await env.Json("/api/environment");
        Assert.Equal("test-ase", environment.RootElement.GetProperty("name").GetString());
        Assert.Equal(3, environment.RootElement.GetProperty("workersTotal").GetInt32());
        Assert.Equal(2, environment.RootElement.GetProperty("workersUsed").GetInt32());

        using var pool = await env.Json("/api/workerPools/WP1");
        Assert.Equal("Static", pool.RootElement.GetProperty("kind").GetString());
        Assert.Equal(1, pool.RootElement.GetProperty("workersAvailable").GetInt32());

        using var instances = await env.Json("/api/apps/web/instances");
        Assert.Equal(2, instances.RootElement.GetArrayLength());
        var first = instances.RootElement[0];
        Assert.Equal("healthy", first.GetProperty("state").GetString());
        Assert.True(first.GetProperty("available").GetBoolean());
        Assert.True(first.GetProperty("lastHealth").GetProperty("healthy").GetBoolean());

        Assert.Equal(HttpStatusCode.NotFound, (await env.Send(HttpMethod.Get, "/api/apps/nope", AdminKey)).StatusCode);
    }

    [Fact]
    public async Task OpenApiDocument_GeneratedOnFirstRequest_DescribesTheManagementHostsEndpoints()
    {
        await using var env = await Env.StartAsync(output, backends: 1);

        // Concurrent first requests share one generation (the document is built by a throwaway host on demand).
        var first = await Task.WhenAll(env.Json("/openapi/v1.json"), env.Json("/openapi/V1.json"));
        using var document = first[0];
        using var again = first[1];

        var root = document.RootElement;
        Assert.Equal(root.GetRawText(), again.RootElement.GetRawText());
        Assert.StartsWith("3.1", root.GetProperty("openapi").GetString());
        Assert.Equal("AseGateway | v1", root.GetProperty("info").GetProperty("title").GetString());
        Assert.Equal(env.Gateway.Server.ManagementUrl.ToString(), root.GetProperty("servers")[0].GetProperty("url").GetString());
        var paths = root.GetProperty("paths");
        var scale = paths.GetProperty("/api/workerPools/{name}/scale").GetProperty("post");
        Assert.True(scale.TryGetProperty("requestBody", out _));
        Assert.Equal("name", scale.GetProperty("parameters")[0].GetProperty("name").GetString());
        // Handler parameters that are services (SnapshotHolder, ScaleService) must not show as body or query: the
        // generating host registers the management host's services.
        var environment = paths.GetProperty("/api/environment").GetProperty("get");
        Assert.False(environment.TryGetProperty("requestBody", out _));
        Assert.False(environment.TryGetProperty("parameters", out _));
        Assert.True(paths.TryGetProperty("/healthz", out _));
        Assert.True(paths.TryGetProperty("/api/stats", out _));
        Assert.False(paths.TryGetProperty("/openapi/{documentName}.json", out _));

        Assert.Equal(HttpStatusCode.NotFound, (await env.Send(HttpMethod.Get, "/openapi/v2.json", AdminKey)).StatusCode);
    }

    [Fact]
    public async Task ScalePool_BelowPlanUse_Is409NamingThePlan_AboveCap_Is409()
    {
        await using var env = await Env.StartAsync(output, backends: 3, workerCount: 3, instanceCount: 2);

        var below = await env.Send(HttpMethod.Post, "/api/workerPools/WP1/scale", AdminKey, new { workerCount = 1 });
        Assert.Equal(HttpStatusCode.Conflict, below.StatusCode);
        Assert.Contains("web-plan (2)", await below.Content.ReadAsStringAsync());

        var beyondStatic = await env.Send(HttpMethod.Post, "/api/workerPools/WP1/scale", AdminKey, new { workerCount = 4 });
        Assert.Equal(HttpStatusCode.Conflict, beyondStatic.StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await env.Send(HttpMethod.Post, "/api/workerPools/WP9/scale", AdminKey, new { workerCount = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await env.Send(HttpMethod.Post, "/api/workerPools/WP1/scale", AdminKey, new { workerCount = -1 })).StatusCode);
    }

    [Fact]
    public async Task ScalePlan_WritesTheFileKeepingComments_AndNewInstanceTakesTraffic()
    {
        await using var env = await Env.StartAsync(output, backends: 3, workerCount: 3, instanceCount: 2);

        var response = await env.Send(HttpMethod.Post, "/api/plans/web-plan/scale", AdminKey, new { instanceCount = 3 });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("/api/plans/web-plan", response.Headers.Location?.OriginalString);

        var file = await File.ReadAllTextAsync(env.Folder.FilePath);
        Assert.Contains("// kept: a comment the API must not lose", file);
        Assert.Contains("\"instanceCount\": 3", file);
        await env.Gateway.WaitUntilAsync(() => env.Gateway.Available().Count == 3, TimeSpan.FromSeconds(15), "three instances serve");
        await env.WaitUntilNotScalingAsync("WP1");

        var tooMany = await env.Send(HttpMethod.Post, "/api/plans/web-plan/scale", AdminKey, new { instanceCount = 4 });
        Assert.Equal(HttpStatusCode.Conflict, tooMany.StatusCode);
        Assert.Contains("at most 3", await tooMany.Content.ReadAsStringAsync());

        // A reload of the file (as a hand edit would trigger) keeps the API's change.
        await env.Gateway.Server.Config.ReloadAsync("test");
        Assert.Equal(3, env.Gateway.Available().Count);
    }

    [Fact]
    public async Task ScaleWhileAnotherScaleRuns_Is409()
    {
        await using var env = await Env.StartAsync(output, backends: 3, workerCount: 3, instanceCount: 2);
        env.Backends.List[2].HealthStatus = 503; // the third instance never becomes ready: the scale keeps running

        Assert.Equal(HttpStatusCode.Accepted, (await env.Send(HttpMethod.Post, "/api/plans/web-plan/scale", AdminKey, new { instanceCount = 3 })).StatusCode);
        var second = await env.Send(HttpMethod.Post, "/api/workerPools/WP1/scale", AdminKey, new { workerCount = 3 });

        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Contains("already being scaled", await second.Content.ReadAsStringAsync());
        using var pool = await env.Json("/api/workerPools/WP1");
        Assert.True(pool.RootElement.GetProperty("scaling").GetBoolean());
    }

    [Fact]
    public async Task PutConfig_RequiresIfMatch_RejectsStale_AndInvalid_AppliesValid()
    {
        await using var env = await Env.StartAsync(output, backends: 1);
        var get = await env.Send(HttpMethod.Get, "/api/config", AdminKey);
        var etag = get.Headers.ETag!.Tag;
        var current = await get.Content.ReadAsStringAsync();
        Assert.Equal($"\"{AseGateway.Configuration.ConfigLoader.Hash(Encoding.UTF8.GetBytes(current))}\"", etag);

        var changed = current.Replace("\"web.contoso.test\"", "\"put.contoso.test\"");
        Assert.Equal((HttpStatusCode)428, (await env.Put(changed, ifMatch: null)).StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await env.Put(changed, "\"0000\"")).StatusCode);

        var invalid = await env.Put(changed.Replace("\"RoundRobin\"", "\"Fastest\"").Replace("\"instanceCount\": 1", "\"instanceCount\": 9"), etag);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        using (var problem = JsonDocument.Parse(await invalid.Content.ReadAsStringAsync()))
        {
            var paths = problem.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("path").GetString()).ToList();
            Assert.Contains("apps[0].loadBalancing", paths);
            Assert.Contains("plans[0].instanceCount", paths);
        }

        Assert.Equal(current, await File.ReadAllTextAsync(env.Folder.FilePath));

        var ok = await env.Put(changed, etag);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(changed, await File.ReadAllTextAsync(env.Folder.FilePath));
        Assert.Equal("b0", await env.Gateway.GetBodyAsync("put.contoso.test"));
    }

    [Fact]
    public async Task ValidateStatusReload_ReportWithoutApplying()
    {
        await using var env = await Env.StartAsync(output, backends: 1);

        var invalid = await env.Send(HttpMethod.Post, "/api/config/validate", AdminKey, raw: "{ \"name\": \"x\" }");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        Assert.Contains("frontEnd.listeners", await invalid.Content.ReadAsStringAsync());

        env.Folder.WriteInPlace("{ broken");
        var reload = await env.Send(HttpMethod.Post, "/api/config/reload", AdminKey);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reload.StatusCode);

        using var status = await env.Json("/api/config/status");
        Assert.Equal(1, status.RootElement.GetProperty("generation").GetInt64());
        Assert.Equal("$", status.RootElement.GetProperty("lastError").GetProperty("errors")[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task Drain_WaitsForSlowInFlightRequest_ThenReportsDrained()
    {
        await using var env = await Env.StartAsync(output, backends: 2, workerCount: 2, instanceCount: 2, loadBalancing: "FirstAlphabetical");
        var slow = env.Gateway.GetAsync(TestConfigs.AppHost, "/slow");
        await env.Backends.List[0].SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var drain = env.Send(HttpMethod.Post, "/api/apps/web/instances/0/drain?wait=true", AdminKey);
        await env.Gateway.WaitUntilAsync(() => !env.Gateway.Available().Contains("web/web-plan/0"), TimeSpan.FromSeconds(10), "instance 0 leaves rotation");

        Assert.False(drain.IsCompleted);
        Assert.Equal("b1", await env.Gateway.GetBodyAsync(TestConfigs.AppHost));

        env.Backends.List[0].ReleaseSlow.SetResult();
        using var slowResponse = await slow;
        Assert.Equal(HttpStatusCode.OK, slowResponse.StatusCode);
        var drained = await drain.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        Assert.Contains("\"drained\":true", await drained.Content.ReadAsStringAsync());
    }

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>A gateway on a real configuration file with two API keys, and a client for its management listener.</summary>
    private sealed class Env : IAsyncDisposable
    {
        private readonly HttpClient _client = new();

        private Env(Backends backends, ConfigDirectory folder, TestGateway gateway)
        {
            Backends = backends;
            Folder = folder;
            Gateway = gateway;
        }

        public Backends Backends { get; }

        public ConfigDirectory Folder { get; }

        public TestGateway Gateway { get; }

        public static async Task<Env> StartAsync(ITestOutputHelper output, int backends, int? workerCount = null, int? instanceCount = null, string loadBalancing = "RoundRobin")
        {
            var list = await Routing.Backends.StartAsync(backends);
            var json = TestConfigs.Static(list.List, loadBalancing)
                .Replace("\"name\": \"test-ase\",", "\"name\": \"test-ase\", // kept: a comment the API must not lose\n")
                .Replace("\"management\": { \"address\": \"127.0.0.1\", \"port\": 0 }", $$"""
                    "management": { "address": "127.0.0.1", "port": 0, "apiKeys": [
                      { "name": "admin", "sha256": "{{Hash(AdminKey)}}" },
                      { "name": "reader", "sha256": "{{Hash(ReaderKey)}}", "role": "Reader" } ] }
                    """);
            if (workerCount is { } workers)
            {
                json = json.Replace($"\"workerCount\": {backends},", $"\"workerCount\": {workers},");
            }

            if (instanceCount is { } count)
            {
                json = json.Replace($"\"instanceCount\": {backends} ", $"\"instanceCount\": {count} ");
            }

            var folder = new ConfigDirectory();
            folder.WriteInPlace(json);
            var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);
            return new Env(list, folder, gateway);
        }

        public async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? key, object? body = null, bool bearer = true, string? raw = null)
        {
            using var request = new HttpRequestMessage(method, new Uri(Gateway.Server.ManagementUrl, path));
            if (key is not null)
            {
                if (bearer)
                {
                    request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
                }
                else
                {
                    request.Headers.Add("X-API-Key", key);
                }
            }

            if (body is not null)
            {
                request.Content = JsonContent.Create(body);
            }
            else if (raw is not null)
            {
                request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
            }

            return await _client.SendAsync(request);
        }

        public async Task<HttpResponseMessage> Put(string content, string? ifMatch)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(Gateway.Server.ManagementUrl, "/api/config"));
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
            if (ifMatch is not null)
            {
                request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
            }

            request.Content = new StringContent(content, new UTF8Encoding(false), "application/json");
            return await _client.SendAsync(request);
        }

        /// <summary>Watches the pool resource, as a client of the 202 would, until its scale operation has finished.</summary>
        public async Task WaitUntilNotScalingAsync(string pool)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (true)
            {
                using (var document = await Json($"/api/workerPools/{pool}"))
                {
                    if (!document.RootElement.GetProperty("scaling").GetBoolean())
                    {
                        return;
                    }
                }

                await ticks.WaitForNextTickAsync(deadline.Token);
            }
        }

        public async Task<JsonDocument> Json(string path)
        {
            var response = await Send(HttpMethod.Get, path, AdminKey);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            await Gateway.DisposeAsync();
            await Backends.DisposeAsync();
            Folder.Dispose();
        }
    }
}
