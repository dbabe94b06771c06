using AseGateway.Instances;
using Microsoft.Extensions.Logging;

namespace AseGateway.Health;

/// <summary>
/// Pings one instance for as long as it exists. While the instance is starting it pings every
/// <see cref="StartupProbeInterval"/> so that a new instance takes traffic as soon as it answers; once ready, at the
/// app's interval. Failures are counted; crossing the threshold (or recovering) is reported to the observer, which
/// decides exclusion for the whole app (the percentage cap needs all instances).
/// </summary>
internal sealed partial class InstanceHealthMonitor : IDisposable
{
    public static readonly TimeSpan StartupProbeInterval = TimeSpan.FromMilliseconds(200);

    private readonly InstanceState _instance;
    private readonly HealthProber _prober;
    private readonly IInstanceObserver _observer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;

    public InstanceHealthMonitor(InstanceState instance, HealthProber prober, IInstanceObserver observer, TimeProvider time, ILogger logger)
    {
        _instance = instance;
        _prober = prober;
        _observer = observer;
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised after every ping; lets tests wait for probes instead of sleeping.</summary>
    public event Action<InstanceState, HealthProbeResult>? Probed;

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Pings now instead of at the end of the current interval (e.g. the process just restarted).</summary>
    public void Wake() => Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
    }

    public void Dispose() => _stop.Dispose();

    private async Task RunAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            var wake = Volatile.Read(ref _wake).Task;
            var phase = _instance.Phase;
            if (phase is InstancePhase.Starting or InstancePhase.Ready && _instance.Address is not null)
            {
                HealthProbeResult result;
                try
                {
                    result = await _prober.ProbeAsync(_instance, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Apply(phase, result);
                Probed?.Invoke(_instance, result);
            }

            var delay = _instance.Phase == InstancePhase.Ready ? _instance.Spec.HealthCheck.Interval : StartupProbeInterval;
            try
            {
                await Task.WhenAny(Task.Delay(delay, _time, token), wake);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Apply(InstancePhase phase, HealthProbeResult result)
    {
        if (phase == InstancePhase.Starting)
        {
            if (result.Healthy && _instance.TryMovePhase(InstancePhase.Starting, InstancePhase.Ready))
            {
                _instance.RecordProbe(result);
                LogReady(_logger, _instance.Spec.Key, result.Detail);
                _observer.AvailabilityChanged(_instance);
            }

            return;
        }

        var before = _instance.ConsecutiveFailures;
        var wasPassivelyFailed = _instance.IsPassivelyFailed(_time.GetUtcNow());
        var after = _instance.RecordProbe(result);
        var threshold = _instance.Spec.HealthCheck.MaxPingFailures;
        if (!result.Healthy)
        {
            LogProbeFailed(_logger, _instance.Spec.Key, after, threshold, result.Detail);
            if (after == threshold)
            {
                LogUnhealthy(_logger, _instance.Spec.Key, after);
                _observer.AvailabilityChanged(_instance);
            }
        }
        else if (before >= threshold || wasPassivelyFailed)
        {
            LogRecovered(_logger, _instance.Spec.Key);
            _observer.AvailabilityChanged(_instance);
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.InstanceReady, Level = LogLevel.Information, Message = "Instance {Instance} is ready: {Detail}.")]
    private static partial void LogReady(ILogger logger, string instance, string detail);

    [LoggerMessage(EventId = Logging.EventIds.InstanceProbeFailed, Level = LogLevel.Debug, Message = "Instance {Instance} failed its health check ({Failures} of {Threshold}): {Detail}")]
    private static partial void LogProbeFailed(ILogger logger, string instance, int failures, int threshold, string detail);

    [LoggerMessage(EventId = Logging.EventIds.InstanceUnhealthy, Level = LogLevel.Warning, Message = "Instance {Instance} failed {Failures} health checks in a row: it is removed from rotation (within the app's exclusion cap).")]
    private static partial void LogUnhealthy(ILogger logger, string instance, int failures);

    [LoggerMessage(EventId = Logging.EventIds.InstanceRecovered, Level = LogLevel.Information, Message = "Instance {Instance} is healthy again and returns to rotation.")]
    private static partial void LogRecovered(ILogger logger, string instance);
}
