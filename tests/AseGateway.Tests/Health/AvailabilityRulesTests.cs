using AseGateway.Health;
using AseGateway.Instances;
using AseGateway.Model;

namespace AseGateway.Tests.Health;

public sealed class AvailabilityRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    // Each string is one instance: R = ready and healthy, F = ready but failed maxPingFailures pings,
    // P = ready with a recent connection failure, S = starting, X = restarting, D = draining.
    [Theory]
    [InlineData("RRR", 50, "012")]
    [InlineData("FRR", 50, "12")]
    [InlineData("FFR", 50, "12")]  // 3 instances at 50%: at most one is excluded
    [InlineData("FFFR", 50, "23")] // 4 at 50%: two excluded, one failing instance keeps serving
    [InlineData("F", 100, "0")]    // a lone instance is never removed
    [InlineData("FF", 100, "1")]   // never all of them either
    [InlineData("FR", 0, "01")]    // 0% means never exclude for health
    [InlineData("PR", 50, "1")]
    [InlineData("SRX", 50, "1")]   // starting and restarting instances take no traffic, whatever the cap
    [InlineData("DR", 50, "1")]
    [InlineData("SS", 50, "")]
    public void Select_States_KeepsAppServiceRules(string states, int maxUnhealthyPercent, string expected)
    {
        var instances = new List<InstanceState?>();
        for (var i = 0; i < states.Length; i++)
        {
            instances.Add(Instance(i, states[i], maxUnhealthyPercent));
        }

        var available = new List<int>();
        AvailabilityRules.Select(instances, Now, available);

        Assert.Equal(expected, string.Concat(available));
    }

    private static InstanceState Instance(int index, char state, int maxUnhealthyPercent)
    {
        var spec = new InstanceSpec
        {
            Key = $"app/plan/{index}",
            AppName = "app",
            PlanName = "plan",
            PoolName = "WP1",
            Index = index,
            InstanceId = new string('0', 64),
            HostName = "app.test",
            StaticAddress = new Uri($"http://10.0.0.{index + 1}/"),
            HealthCheck = new HealthCheckModel("/healthz", TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), 2, maxUnhealthyPercent),
        };
        var instance = new InstanceState(spec, spec.Key + "#1");
        instance.SetAddress(spec.StaticAddress);
        instance.SetPhase(state switch
        {
            'S' => InstancePhase.Starting,
            'X' => InstancePhase.Restarting,
            'D' => InstancePhase.Draining,
            _ => InstancePhase.Ready,
        });
        if (state == 'F')
        {
            instance.RecordProbe(new HealthProbeResult(Now, false, 500, "down"));
            instance.RecordProbe(new HealthProbeResult(Now, false, 500, "down"));
        }

        if (state == 'P')
        {
            instance.RecordPassiveFailure(Now.AddSeconds(10));
        }

        return instance;
    }
}
