namespace AseGateway.Instances;

/// <summary>The states an operator reasons about, as the management API, the dashboard and the metrics name them.</summary>
internal static class InstanceStateNames
{
    public const string Starting = "starting";
    public const string Healthy = "healthy";
    public const string Unhealthy = "unhealthy";
    public const string Restarting = "restarting";
    public const string Draining = "draining";
    public const string Stopped = "stopped";

    /// <summary>Every name, in the order a dashboard lists them.</summary>
    public static readonly IReadOnlyList<string> All = [Starting, Healthy, Unhealthy, Restarting, Draining, Stopped];

    /// <summary>A ready instance that failed its last <c>maxPingFailures</c> pings is unhealthy, whatever the exclusion cap let through.</summary>
    public static string Of(InstanceState state) => state.Phase switch
    {
        InstancePhase.Ready => state.ConsecutiveFailures >= state.Spec.HealthCheck.MaxPingFailures ? Unhealthy : Healthy,
        InstancePhase.Starting => Starting,
        InstancePhase.Restarting => Restarting,
        InstancePhase.Draining => Draining,
        _ => Stopped,
    };
}
