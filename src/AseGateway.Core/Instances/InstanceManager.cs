using AseGateway.Configuration;
using AseGateway.Health;
using AseGateway.Model;
using AseGateway.Routing;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;

namespace AseGateway.Instances;

/// <summary>
/// Makes the live instances match the snapshot: starts what is new, drains and stops what is gone, replaces what
/// changed, and keeps YARP's destinations and their availability in step with every instance's state.
/// </summary>
internal sealed partial class InstanceManager : IInstanceObserver, IAsyncDisposable
{

    /// <summary>How long a draining instance waits before trusting an in-flight count of zero.</summary>
    public static readonly TimeSpan DrainSettle = TimeSpan.FromMilliseconds(500);

    /// <summary>YARP's own default reactivation period for passive failures.</summary>
    public static readonly TimeSpan PassiveReactivation = TimeSpan.FromSeconds(10);

    private readonly InstanceRegistry _registry;
    private readonly IInstanceRuntimeFactory _factory;
    private readonly ProxyConfigPublisher _publisher;
    private readonly IProxyStateLookup _proxyState;
    private readonly IClusterDestinationsUpdater _destinationsUpdater;
    private readonly HealthProber _prober;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, InstanceHealthMonitor> _monitors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InstanceRuntime> _active = new(StringComparer.Ordinal);
    private readonly List<Task> _removals = [];
    private readonly SemaphoreSlim _reconcileGate = new(1, 1);
    private bool _disposed;
    private TimeSpan _drainTimeout = TimeSpan.FromSeconds(ConfigDefaults.DrainTimeoutSeconds);
    private TimeSpan _stopTimeout = TimeSpan.FromSeconds(ConfigDefaults.StopTimeoutSeconds);

    public InstanceManager(
        InstanceRegistry registry,
        IInstanceRuntimeFactory factory,
        ProxyConfigPublisher publisher,
        IProxyStateLookup proxyState,
        IClusterDestinationsUpdater destinationsUpdater,
        TimeProvider time,
        ILogger<InstanceManager> logger)
    {
        _registry = registry;
        _factory = factory;
        _publisher = publisher;
        _proxyState = proxyState;
        _destinationsUpdater = destinationsUpdater;
        _time = time;
        _logger = logger;
        _prober = new HealthProber(time);
    }

    /// <summary>Raised after every health ping of any instance (tests wait on it).</summary>
    public event Action<InstanceState, HealthProbeResult>? Probed;

    public InstanceRegistry Registry => _registry;

    public async Task ReconcileAsync(GatewaySnapshot snapshot)
    {
        await _reconcileGate.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _drainTimeout = snapshot.DrainTimeout;
            _stopTimeout = snapshot.StopTimeout;
            var desired = new Dictionary<string, InstanceSpec>(StringComparer.Ordinal);
            foreach (var spec in snapshot.Instances)
            {
                desired.Add(spec.Key, spec);
            }

            List<InstanceRuntime> retiring = [];
            lock (_active)
            {
                foreach (var (key, runtime) in _active)
                {
                    if (desired.TryGetValue(key, out var spec) && IsSameWorkload(runtime.Spec, spec))
                    {
                        runtime.State.UpdateSpec(spec);
                        desired.Remove(key);
                    }
                    else
                    {
                        retiring.Add(runtime);
                    }
                }

                foreach (var runtime in retiring)
                {
                    _active.Remove(runtime.Spec.Key);
                }
            }

            // Replacements start beside the instances they replace, which drain in the background: a reload never
            // waits for a slow request, and the app never has fewer ready instances than it needs.
            foreach (var spec in desired.Values)
            {
                Add(spec);
            }

            foreach (var runtime in retiring)
            {
                TrackRemoval(RemoveAsync(runtime, drain: true));
            }

            _publisher.Publish();
        }
        finally
        {
            _reconcileGate.Release();
        }
    }

    /// <summary>True when every instance the snapshot wants for the plan is ready and none of the plan's removed instances is still draining.</summary>
    public bool PlanConverged(GatewaySnapshot snapshot, string planName)
    {
        foreach (var spec in snapshot.Instances)
        {
            if (string.Equals(spec.PlanName, planName, StringComparison.OrdinalIgnoreCase)
                && FindActive(spec.Key)?.Phase != InstancePhase.Ready)
            {
                return false;
            }
        }

        foreach (var runtime in _registry.Snapshot())
        {
            if (string.Equals(runtime.Spec.PlanName, planName, StringComparison.OrdinalIgnoreCase) && runtime.State.Phase == InstancePhase.Draining)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Requests in flight to the instance right now (YARP's own count).</summary>
    public int InFlight(InstanceState instance) =>
        _proxyState.TryGetCluster(instance.Spec.AppName, out var cluster) && cluster.Destinations.TryGetValue(instance.Id, out var destination)
            ? destination.ConcurrentRequestCount
            : 0;

    /// <summary>The active (not draining) instance for a spec key such as <c>web/web-plan/0</c>.</summary>
    public InstanceState? FindActive(string specKey)
    {
        lock (_active)
        {
            return _active.TryGetValue(specKey, out var runtime) ? runtime.State : null;
        }
    }

    /// <summary>Takes one instance out of rotation for good (until the next reload that wants it back).</summary>
    /// <returns>A task that completes when the instance has drained and stopped; null when there is no such instance.</returns>
    public Task? Drain(string specKey)
    {
        InstanceRuntime? runtime;
        lock (_active)
        {
            if (!_active.Remove(specKey, out runtime))
            {
                return null;
            }
        }

        var removal = RemoveAsync(runtime, drain: true);
        TrackRemoval(removal);
        return removal;
    }

    /// <summary>The keys of the app's instances that take traffic right now, as YARP's load balancer sees them.</summary>
    public IReadOnlyList<string> AvailableInstances(string appName)
    {
        if (!_proxyState.TryGetCluster(appName, out var cluster) || cluster.DestinationsState is not { } destinations)
        {
            return [];
        }

        var keys = new List<string>(destinations.AvailableDestinations.Count);
        foreach (var destination in destinations.AvailableDestinations)
        {
            keys.Add(_registry.Find(destination.DestinationId)?.Spec.Key ?? destination.DestinationId);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    public void AddressChanged(InstanceState instance)
    {
        if (_registry.Find(instance.Id) == instance)
        {
            WakeMonitor(instance.Id);
            _publisher.Publish();
        }
    }

    public void AvailabilityChanged(InstanceState instance)
    {
        if (_proxyState.TryGetCluster(instance.Spec.AppName, out var cluster) && cluster.DestinationsState is not null)
        {
            _destinationsUpdater.UpdateAvailableDestinations(cluster);
        }
    }

    /// <summary>A request to the instance failed at the connection: take it out now instead of waiting for pings.</summary>
    public void ReportConnectionFailure(string destinationId)
    {
        if (_registry.Find(destinationId) is not { } instance || instance.Phase != InstancePhase.Ready)
        {
            return;
        }

        var until = _time.GetUtcNow() + PassiveReactivation;
        instance.RecordPassiveFailure(until);
        LogPassiveFailure(_logger, destinationId, PassiveReactivation.TotalSeconds);
        AvailabilityChanged(instance);

        // When the period ends, let it back in even if its next ping is still far away.
        _ = Task.Delay(PassiveReactivation, _time).ContinueWith(
            static (_, state) => { var (manager, instance) = ((InstanceManager, InstanceState))state!; manager.AvailabilityChanged(instance); },
            (this, instance),
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await _reconcileGate.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            List<Task> stops;
            lock (_removals)
            {
                stops = new List<Task>(_removals);
            }

            lock (_active)
            {
                foreach (var runtime in _active.Values)
                {
                    stops.Add(RemoveAsync(runtime, drain: false));
                }

                _active.Clear();
            }

            await Task.WhenAll(stops);
            _prober.Dispose();
        }
        finally
        {
            _reconcileGate.Release();
        }
    }

    private void Add(InstanceSpec spec)
    {
        var runtime = _factory.Create(spec, this);
        _registry.TryAdd(runtime);
        lock (_active)
        {
            _active[spec.Key] = runtime;
        }

        var monitor = new InstanceHealthMonitor(runtime.State, _prober, this, _time, _logger);
        monitor.Probed += OnProbed;
        lock (_monitors)
        {
            _monitors[runtime.Id] = monitor;
        }

        LogAdded(_logger, spec.Key, spec.InstanceId);
        runtime.Start();
        monitor.Start();
    }

    private async Task RemoveAsync(InstanceRuntime runtime, bool drain)
    {
        var key = runtime.Spec.Key;
        var id = runtime.Id;
        if (drain)
        {
            runtime.State.SetPhase(InstancePhase.Draining);
            AvailabilityChanged(runtime.State);
            LogDraining(_logger, key);
            await WaitForInFlightAsync(runtime.State);
        }

        InstanceHealthMonitor? monitor;
        lock (_monitors)
        {
            _monitors.Remove(id, out monitor);
        }

        if (monitor is not null)
        {
            await monitor.StopAsync();
            monitor.Dispose();
        }

        await runtime.StopAsync(_stopTimeout);
        _registry.Remove(runtime);
        LogRemoved(_logger, key);
        if (!_disposed)
        {
            _publisher.Publish();
        }
    }

    private async Task WaitForInFlightAsync(InstanceState instance)
    {
        var started = _time.GetTimestamp();

        // A request may have picked this instance just before it left rotation and not yet be counted as in flight:
        // give such requests a moment to register before "zero in flight" is believed.
        var settle = _drainTimeout < DrainSettle ? _drainTimeout : DrainSettle;
        await Task.Delay(settle, _time);
        while (_time.GetElapsedTime(started) < _drainTimeout)
        {
            if (!_proxyState.TryGetCluster(instance.Spec.AppName, out var cluster)
                || !cluster.Destinations.TryGetValue(instance.Id, out var destination)
                || destination.ConcurrentRequestCount == 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _time);
        }
    }

    private void TrackRemoval(Task removal)
    {
        lock (_removals)
        {
            _removals.RemoveAll(static t => t.IsCompleted);
            _removals.Add(removal);
        }
    }

    private void WakeMonitor(string id)
    {
        lock (_monitors)
        {
            if (_monitors.TryGetValue(id, out var monitor))
            {
                monitor.Wake();
            }
        }
    }

    private void OnProbed(InstanceState instance, HealthProbeResult result) => Probed?.Invoke(instance, result);

    private static bool IsSameWorkload(InstanceSpec current, InstanceSpec next) =>
        current.InstanceId == next.InstanceId
        && current.StaticAddress == next.StaticAddress
        && (current.Launch is null ? next.Launch is null : current.Launch.SameAs(next.Launch));

    [LoggerMessage(EventId = Logging.EventIds.InstanceAdded, Level = LogLevel.Debug, Message = "Instance {Instance} ({InstanceId}) added.")]
    private static partial void LogAdded(ILogger logger, string instance, string instanceId);

    [LoggerMessage(EventId = Logging.EventIds.InstanceRemoved, Level = LogLevel.Information, Message = "Instance {Instance} removed.")]
    private static partial void LogRemoved(ILogger logger, string instance);

    [LoggerMessage(EventId = Logging.EventIds.InstanceDraining, Level = LogLevel.Information, Message = "Instance {Instance} is draining.")]
    private static partial void LogDraining(ILogger logger, string instance);

    [LoggerMessage(EventId = Logging.EventIds.InstancePassiveFailure, Level = LogLevel.Warning, Message = "A connection to instance {Instance} failed: it is out of rotation for {Seconds} s or until it answers a health check.")]
    private static partial void LogPassiveFailure(ILogger logger, string instance, double seconds);
}
