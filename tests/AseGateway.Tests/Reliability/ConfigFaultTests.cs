using System.Net;
using System.Text.Json;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;
using static AseGateway.Tests.Infrastructure.ConfigChanges;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// Issue 8, part 6: every way a configuration file goes bad, one after another, while requests flow. Each bad
/// version is refused with its errors in GET /api/config/status, the last good one keeps serving, and the next
/// good save is applied. (Each fault also has its own focused test in Control/ConfigReloadTests.)
/// </summary>
public sealed class ConfigFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task EveryFileFault_InSequence_UnderLoad_NoRequestFails_LastGoodServes_ErrorVisible_NextSaveRecovers()
    {
        await using var backends = await Backends.StartAsync(2);
        using var folder = new ConfigDirectory();

        // Every good version adds its own host name, so "the last good one serves" and "the new one applied" are visible.
        string Good(int version) => TestConfigs.WithApiKey(TestConfigs.Static(backends.List))
            .Replace($"\"{TestConfigs.AppHost}\"", $"\"{TestConfigs.AppHost}\", \"v{version}.contoso.test\"");
        folder.WriteInPlace(Good(0));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);
        using var api = gateway.ManagementClient();

        var good = Good(0);
        var faults = new (string Name, Action Break, string Path, string Message, Action<string> Recover)[]
        {
            ("partial write", () => folder.WriteInPlace(good[..(good.Length / 2)]), "*", "invalid JSON", folder.WriteInPlace),
            ("empty file", () => folder.WriteInPlace(string.Empty), "$", "the file is empty", folder.WriteInPlace),
            ("invalid JSON", () => folder.WriteInPlace(good.Replace("\"plans\": [", "\"plans\": [ ,")), "*", "invalid JSON", folder.WriteByRename),
            ("invalid model", () => folder.WriteByRename(good.Replace("\"loadBalancing\": \"RoundRobin\"", "\"loadBalancing\": \"Fastest\"")), "apps[0].loadBalancing", "unknown load-balancing policy", folder.WriteInPlace),
            ("delete then recreate", folder.Delete, "$", "does not exist", folder.WriteConfigMapVersion),
            ("symlink swap to an invalid model", () => folder.WriteConfigMapVersion(good.Replace("\"maxPingFailures\": 2", "\"maxPingFailures\": 1")), "healthCheck.maxPingFailures", "between 2 and 10", folder.WriteConfigMapVersion),
            ("symlink swap to a missing file", () => folder.WriteConfigMapVersion(null), "$", "does not exist", folder.WriteConfigMapVersion),
        };

        await using var load = LoadLoop.Start(gateway.Url, TestConfigs.AppHost, clients: 4, maxDuration: TimeSpan.FromSeconds(120));
        var problems = new List<string>();
        var refusedVisible = 0;
        var lastGoodServed = 0;
        var recovered = 0;
        for (var i = 0; i < faults.Length && problems.Count == 0; i++)
        {
            var (name, breakIt, path, message, recover) = faults[i];
            var generation = gateway.Server.Config.Status.Generation;
            good = Good(i);

            var refused = NextOutcome(gateway, ConfigChangeOutcome.Invalid);
            breakIt();
            if (!await CompletesAsync(refused))
            {
                problems.Add($"{name}: not refused within {Timeout.TotalSeconds} s");
                break;
            }

            using (var status = JsonDocument.Parse(await api.GetStringAsync("/api/config/status")))
            {
                var root = status.RootElement;
                var errors = root.TryGetProperty("lastError", out var lastError)
                    ? lastError.GetProperty("errors").EnumerateArray().Select(e => (Path: e.GetProperty("path").GetString()!, Message: e.GetProperty("message").GetString()!)).ToList()
                    : [];
                output.WriteLine($"{name}: {string.Join("; ", errors.Select(e => $"{e.Path}: {e.Message}"))}");
                if (root.GetProperty("generation").GetInt64() == generation
                    && errors.Any(e => (path == "*" || e.Path == path) && e.Message.Contains(message, StringComparison.Ordinal)))
                {
                    refusedVisible++;
                }
                else
                {
                    problems.Add($"{name}: expected generation {generation} and '{path}: …{message}…' in /api/config/status");
                }
            }

            using (var lastGood = await gateway.GetAsync($"v{i}.contoso.test"))
            {
                lastGoodServed += lastGood.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }

            var applied = NextGeneration(gateway, generation + 1);
            recover(Good(i + 1));
            if (!await CompletesAsync(applied))
            {
                problems.Add($"{name}: the next good save was not applied within {Timeout.TotalSeconds} s");
                break;
            }

            using var fresh = await gateway.GetAsync($"v{i + 1}.contoso.test");
            using var after = JsonDocument.Parse(await api.GetStringAsync("/api/config/status"));
            if (fresh.StatusCode == HttpStatusCode.OK && !after.RootElement.TryGetProperty("lastError", out _))
            {
                recovered++;
            }
            else
            {
                problems.Add($"{name}: after recovery the new host answered {(int)fresh.StatusCode} or the error is still reported");
            }
        }

        await load.StopAsync();
        var failures = load.Failures;
        var passed = problems.Count == 0 && failures.Count == 0 && lastGoodServed == faults.Length;
        ReliabilityReport.Row(
            output,
            "config faults under load",
            $"{faults.Length} faults (partial write, empty, invalid JSON, invalid model, delete/recreate, 2 symlink swaps): {failures.Count} of {load.Requests:N0} requests failed; {refusedVisible} refused with their path in /api/config/status, last good served through {lastGoodServed}, {recovered} recovered on the next save",
            passed);
        Assert.Empty(problems);
        Assert.True(failures.Count == 0, "failures: " + string.Join(", ", failures.Take(10)));
        Assert.Equal(faults.Length, lastGoodServed);
        Assert.True(load.Requests > 200, $"only {load.Requests} requests were sent");
    }

    private static async Task<bool> CompletesAsync(Task task)
    {
        try
        {
            await task.WaitAsync(Timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
