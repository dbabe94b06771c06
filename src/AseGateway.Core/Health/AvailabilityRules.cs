using AseGateway.Instances;

namespace AseGateway.Health;

/// <summary>
/// App Service's rules for which instances of an app take traffic: only instances that are up and ready; of those,
/// the ones failing health checks (or whose connections just failed) are excluded, but never more than the app's
/// maximum unhealthy percentage, and never the last one — a degraded app beats one that answers nothing.
/// </summary>
internal static class AvailabilityRules
{
    /// <summary>Fills <paramref name="available"/> with the indexes of <paramref name="instances"/> that take traffic.</summary>
    public static void Select(IReadOnlyList<InstanceState?> instances, DateTimeOffset now, List<int> available)
    {
        available.Clear();
        var failing = new List<(int Index, int Failures, bool Passive)>();
        var maxUnhealthyPercent = 100;
        for (var i = 0; i < instances.Count; i++)
        {
            var instance = instances[i];
            if (instance is null || instance.Phase != InstancePhase.Ready || instance.Address is null)
            {
                continue;
            }

            var health = instance.Spec.HealthCheck;
            maxUnhealthyPercent = Math.Min(maxUnhealthyPercent, health.MaxUnhealthyPercent);
            var failures = instance.ConsecutiveFailures;
            var passive = instance.IsPassivelyFailed(now);
            if (failures >= health.MaxPingFailures || passive)
            {
                failing.Add((i, failures, passive));
            }

            available.Add(i);
        }

        var candidates = available.Count;
        var maxExcluded = candidates <= 1 ? 0 : Math.Min(candidates * maxUnhealthyPercent / 100, candidates - 1);
        if (failing.Count == 0 || maxExcluded == 0)
        {
            return;
        }

        // Exclude the worst first: failing active checks for longest, then passive-only failures.
        failing.Sort(static (a, b) => b.Failures != a.Failures ? b.Failures.CompareTo(a.Failures) : a.Index.CompareTo(b.Index));
        for (var i = 0; i < failing.Count && i < maxExcluded; i++)
        {
            available.Remove(failing[i].Index);
        }
    }
}
