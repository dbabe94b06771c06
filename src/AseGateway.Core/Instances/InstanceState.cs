using AseGateway.Model;

namespace AseGateway.Instances;

/// <summary>Where an instance is in its life. Only <see cref="Ready"/> instances can take traffic.</summary>
public enum InstancePhase
{
    /// <summary>Launched (or just configured), not yet answering its health check.</summary>
    Starting,

    /// <summary>Passed a health check; takes traffic unless health or passive failures exclude it.</summary>
    Ready,

    /// <summary>The process exited; waiting for its restart back-off.</summary>
    Restarting,

    /// <summary>Removed from rotation; in-flight requests are finishing.</summary>
    Draining,

    Stopped,
}

/// <summary>The outcome of one health ping.</summary>
public sealed record HealthProbeResult(DateTimeOffset At, bool Healthy, int? StatusCode, string Detail);

/// <summary>
/// Mutable, thread-safe state of one instance (the YARP "*State" kind): written by its supervisor, its health loop
/// and passive feedback from the proxy; read by the availability policy and the management API.
/// </summary>
internal sealed class InstanceState
{
    private volatile Uri? _address;
    private volatile HealthProbeResult? _lastProbe;
    private int _phase;
    private int _consecutiveFailures;
    private long _passiveFailedUntilTicks;
    private int _restarts;
    private int _processId;

    private volatile InstanceSpec _spec;
    private volatile object? _responseCache;

    public InstanceState(InstanceSpec spec, string id)
    {
        _spec = spec;
        Id = id;
    }

    /// <summary>This runtime's unique id (spec key plus a serial); the YARP destination id.</summary>
    public string Id { get; }

    /// <summary>Replaced (not mutated) when a reload changes only settings that need no restart, such as health intervals.</summary>
    public InstanceSpec Spec => _spec;

    public void UpdateSpec(InstanceSpec spec) => _spec = spec;

    /// <summary>
    /// What the response path derived from this instance once and reuses on its answers (the ARRAffinity cookies):
    /// read on every forwarded answer, so kept here rather than in a table keyed by the instance, whose weak keys made
    /// each lookup a call into the runtime's handle table. Goes with the instance.
    /// </summary>
    public object? ResponseCache
    {
        get => _responseCache;
        set => _responseCache = value;
    }

    public InstancePhase Phase => (InstancePhase)Volatile.Read(ref _phase);

    public Uri? Address => _address;

    public HealthProbeResult? LastProbe => _lastProbe;

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    public int Restarts => Volatile.Read(ref _restarts);

    public int? ProcessId => Volatile.Read(ref _processId) is var pid and > 0 ? pid : null;

    /// <returns>The phase it had before.</returns>
    public InstancePhase SetPhase(InstancePhase phase) => (InstancePhase)Interlocked.Exchange(ref _phase, (int)phase);

    /// <summary>Moves to <paramref name="phase"/> only from <paramref name="expected"/>, so a late probe cannot resurrect a stopped instance.</summary>
    public bool TryMovePhase(InstancePhase expected, InstancePhase phase) =>
        Interlocked.CompareExchange(ref _phase, (int)phase, (int)expected) == (int)expected;

    public void SetProcess(Uri address, int processId)
    {
        _address = address;
        Volatile.Write(ref _processId, processId);
        Volatile.Write(ref _consecutiveFailures, 0);
    }

    public void SetAddress(Uri address) => _address = address;

    public void ClearProcess() => Volatile.Write(ref _processId, 0);

    public void CountRestart() => Interlocked.Increment(ref _restarts);

    /// <returns>The number of consecutive failures after this result.</returns>
    public int RecordProbe(HealthProbeResult result)
    {
        _lastProbe = result;
        if (result.Healthy)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
            Volatile.Write(ref _passiveFailedUntilTicks, 0);
            return 0;
        }

        return Interlocked.Increment(ref _consecutiveFailures);
    }

    /// <summary>A connection to the instance failed while proxying: keep it out until <paramref name="until"/> or its next good ping.</summary>
    public void RecordPassiveFailure(DateTimeOffset until) => Volatile.Write(ref _passiveFailedUntilTicks, until.UtcTicks);

    public bool IsPassivelyFailed(DateTimeOffset now) => Volatile.Read(ref _passiveFailedUntilTicks) > now.UtcTicks;
}
