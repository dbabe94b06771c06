using System.Net.Http.Json;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Instances;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Control;

/// <summary>The promise users rely on: reloads and scaling never fail a request.</summary>
public sealed class ChangesUnderLoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SixtyReloads_AddingAndRemovingAppsAndInstances_FailNoRequest()
    {
        await using var backends = await Backends.StartAsync(3);
        using var folder = new ConfigDirectory();
        var baseline = TestConfigs.Static(backends.List).Replace("\"instanceCount\": 3 ", "\"instanceCount\": 1 ");
        folder.WriteInPlace(baseline);
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);

        await using var load = LoadLoop.Start(gateway.Url, TestConfigs.AppHost, clients: 6, maxDuration: TimeSpan.FromSeconds(40));
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(150));
        var applied = 0;
        for (var i = 1; i <= 60; i++)
        {
            await pace.WaitForNextTickAsync();
            var instances = 1 + (i % 3);
            var json = baseline.Replace("\"instanceCount\": 1 ", $"\"instanceCount\": {instances} ");
            if (i % 2 == 0)
            {
                // An extra app comes and goes on the same plan.
                json = json.Replace("\"apps\": [", "\"apps\": [ { \"name\": \"extra\", \"plan\": \"web-plan\", \"hostNames\": [ \"extra.contoso.test\" ] },");
            }

            folder.WriteByRename(json);
            var result = await gateway.Server.Config.ReloadAsync("load test");
            applied += result.Outcome == ConfigChangeOutcome.Applied ? 1 : 0;
        }

        await load.StopAsync();
        output.WriteLine($"{load.Requests} requests, {applied} reloads applied, failures: {string.Join(", ", load.Failures)}");
        Assert.True(applied >= 50, $"only {applied} reloads were applied");
        Assert.True(load.Requests > 200, $"only {load.Requests} requests were sent");
        Assert.Empty(load.Failures);
    }

    [Fact]
    public async Task ScaleOutAndIn_ThroughTheApi_ProcessInstances_FailNoRequest()
    {
        const string key = "scale-test-key";
        using var folder = new ConfigDirectory();
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));
        folder.WriteInPlace(ProcessInstanceTests.Config(1).Replace("\"management\": { \"address\": \"127.0.0.1\", \"port\": 0 }",
            $$"""
            "management": { "address": "127.0.0.1", "port": 0, "apiKeys": [ { "name": "ops", "sha256": "{{hash}}" } ] }
            """));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);
        using var api = new HttpClient { BaseAddress = gateway.Server.ManagementUrl };
        api.DefaultRequestHeaders.Add("X-API-Key", key);

        await using var load = LoadLoop.Start(gateway.Url, "hello.contoso.test", clients: 4, maxDuration: TimeSpan.FromSeconds(60));
        foreach (var count in new[] { 3, 1, 2, 1 })
        {
            using var response = await api.PostAsJsonAsync("/api/plans/dev/scale", new { instanceCount = count });
            Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
            await gateway.WaitUntilAsync(() => gateway.Available("hello").Count == count && gateway.Instances.Registry.Snapshot().Count == count, TimeSpan.FromSeconds(30), $"{count} instance(s) serve and no other remains");
        }

        await load.StopAsync();
        output.WriteLine($"{load.Requests} requests, failures: {string.Join(", ", load.Failures)}");
        Assert.True(load.Requests > 100, $"only {load.Requests} requests were sent");
        Assert.Empty(load.Failures);
        Assert.Contains("\"instanceCount\": 1", await File.ReadAllTextAsync(folder.FilePath));
    }
}
