using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AseGateway.Instances;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Instances;

/// <summary>Real child processes: the bundled sample app started, supervised and stopped by the gateway.</summary>
public sealed class ProcessInstanceTests(ITestOutputHelper output)
{
    private static readonly string SampleApp = Path.Combine(AppContext.BaseDirectory, "AseGateway.SampleApp.dll");

    public static string Config(int instances, string loadBalancing = "RoundRobin") => $$"""
        {
          "name": "proc-ase",
          "dnsSuffix": "ase.test",
          "frontEnd": { "listeners": [ { "name": "http", "address": "127.0.0.1", "port": 0, "protocol": "Http" } ] },
          "healthCheck": { "intervalSeconds": 1, "timeoutSeconds": 1, "maxPingFailures": 2 },
          "instances": { "drainTimeoutSeconds": 5, "stopTimeoutSeconds": 5 },
          "workerPools": [ { "name": "WP1", "workerCount": 3 } ],
          "plans": [ { "name": "dev", "workerPool": "WP1", "instanceCount": {{instances}} } ],
          "apps": [
            {
              "name": "hello", "plan": "dev", "hostNames": [ "hello.contoso.test" ],
              "run": { "command": "dotnet", "args": [ {{JsonSerializer.Serialize(SampleApp)}} ], "environment": { "GREETING": "hi" } },
              "healthCheckPath": "/healthz", "clientAffinityEnabled": false, "loadBalancing": "{{loadBalancing}}"
            }
          ],
          "management": { "address": "127.0.0.1", "port": 0 }
        }
        """;

    [Fact]
    public async Task Instances_GetAppServiceEnvironment_AndAnswerThroughTheGateway()
    {
        await using var gateway = await TestGateway.StartAsync(Config(2), output);

        var seen = new Dictionary<string, JsonElement>();
        for (var i = 0; i < 4; i++)
        {
            using var json = JsonDocument.Parse(await gateway.GetBodyAsync("hello.contoso.test", "/", r => r.Headers.Add("Accept", "application/json")));
            var root = json.RootElement.Clone();
            seen[root.GetProperty("instanceName").GetString()!] = root;
        }

        Assert.Equal(["dev/0", "dev/1"], seen.Keys.Order());
        var first = seen["dev/0"];
        Assert.Equal("hello", first.GetProperty("app").GetString());
        Assert.Equal(gateway.Instances.FindActive("hello/dev/0")!.Spec.InstanceId, first.GetProperty("instance").GetString());
        Assert.Equal("hello", first.GetProperty("headers").GetProperty("X-Site-Deployment-Id").GetString());

        // Below the ephemeral range (32768 and up on Linux by default), where no outgoing connection takes a port;
        // a machine whose range starts lower than 21024 leaves no room below it, and the OS chooses.
        if (LoopbackPortAllocator.EphemeralRangeStart() is var ephemeral and >= 21024)
        {
            Assert.InRange(gateway.Instances.FindActive("hello/dev/0")!.Address!.Port, 20000, ephemeral - 1);
        }
    }

    [Fact]
    public async Task KilledInstance_IsRestarted_AndTrafficContinues()
    {
        await using var gateway = await TestGateway.StartAsync(Config(2), output);
        var victim = gateway.Instances.FindActive("hello/dev/1")!;
        var pid = victim.ProcessId!.Value;

        using (var process = Process.GetProcessById(pid))
        {
            process.Kill();
        }

        // Requests keep succeeding: the dead instance leaves rotation when its process exits.
        var failures = 0;
        for (var i = 0; i < 20; i++)
        {
            using var response = await gateway.GetAsync("hello.contoso.test");
            failures += response.StatusCode == HttpStatusCode.OK ? 0 : 1;
        }

        Assert.True(failures <= 1, $"{failures} requests failed");
        await gateway.WaitUntilAsync(() => victim.Phase == InstancePhase.Ready && victim.ProcessId is { } p && p != pid, TimeSpan.FromSeconds(30), "the killed instance is back");
        Assert.Equal(1, victim.Restarts);

        var names = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            using var json = JsonDocument.Parse(await gateway.GetBodyAsync("hello.contoso.test", "/", r => r.Headers.Add("Accept", "application/json")));
            names.Add(json.RootElement.GetProperty("instanceName").GetString()!);
        }

        Assert.Contains("dev/1", names);
    }

    [Fact]
    public async Task GatewayStops_EveryChildProcessExits()
    {
        List<int> pids;
        await using (var gateway = await TestGateway.StartAsync(Config(3), output))
        {
            pids = gateway.Instances.Registry.Snapshot().Select(r => r.State.ProcessId!.Value).ToList();
            Assert.Equal(3, pids.Count);
        }

        foreach (var pid in pids)
        {
            Assert.False(IsRunning(pid), $"process {pid} outlived the gateway");
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
