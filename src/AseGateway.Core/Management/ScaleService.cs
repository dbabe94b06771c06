using AseGateway.Configuration;
using AseGateway.Control;
using AseGateway.Instances;
using Microsoft.Extensions.Logging;

namespace AseGateway.Management;

/// <summary>
/// Scale operations with ASE's rules: a pool never shrinks below the workers its plans hold, the environment never
/// exceeds its worker cap, a plan never needs more workers than its pool has free, and a pool runs one scale
/// operation at a time. Every change is an edit of the configuration file — the single source of truth — and then
/// takes the same reload road as a hand edit, so neither can undo the other.
/// </summary>
internal sealed partial class ScaleService
{
    /// <summary>How long a plan scale may take to converge (instances ready, removed ones drained) before the pool is free again.</summary>
    private static readonly TimeSpan ConvergenceLimit = TimeSpan.FromMinutes(5);

    private readonly ConfigController _config;
    private readonly InstanceManager _instances;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, (Task Operation, string? Plan)> _running = new(StringComparer.OrdinalIgnoreCase);

    public ScaleService(ConfigController config, InstanceManager instances, TimeProvider time, ILogger<ScaleService> logger)
    {
        _config = config;
        _instances = instances;
        _time = time;
        _logger = logger;
    }

    public bool IsScaling(string pool)
    {
        lock (_running)
        {
            return IsRunning(pool);
        }
    }

    /// <summary>
    /// A plan scale is finished the moment its instances have converged, even if the background watch has not
    /// looked yet: a caller that saw the instances come up must not be told the pool is still busy.
    /// </summary>
    private bool IsRunning(string pool) =>
        _running.TryGetValue(pool, out var running)
        && !running.Operation.IsCompleted
        && (running.Plan is null || !_instances.PlanConverged(_config.Current, running.Plan));

    public async Task<ConfigChangeResult> ScalePoolAsync(string poolName, int workerCount, CancellationToken cancellationToken)
    {
        var operation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!TryBegin(poolName, operation.Task, plan: null))
        {
            return Busy(poolName);
        }

        try
        {
            LogScale(_logger, "worker pool", poolName, workerCount);
            return await _config.EditAsync((bytes, config) => EditPool(bytes, config, poolName, workerCount), $"API: scale worker pool {poolName} to {workerCount}", cancellationToken);
        }
        finally
        {
            // A pool's worker count is capacity: the change is complete once applied.
            operation.SetResult();
        }
    }

    public async Task<ConfigChangeResult> ScalePlanAsync(string planName, int instanceCount, CancellationToken cancellationToken)
    {
        var plan = Array.Find(_config.Current.Config.Plans ?? [], p => string.Equals(p.Name, planName, StringComparison.OrdinalIgnoreCase));
        var poolName = plan?.WorkerPool ?? planName;
        var operation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!TryBegin(poolName, operation.Task, planName))
        {
            return Busy(poolName);
        }

        ConfigChangeResult result;
        try
        {
            LogScale(_logger, "plan", planName, instanceCount);
            result = await _config.EditAsync((bytes, config) => EditPlan(bytes, config, planName, instanceCount), $"API: scale plan {planName} to {instanceCount}", cancellationToken);
        }
        catch
        {
            operation.SetResult();
            throw;
        }

        if (result.Outcome != ConfigChangeOutcome.Applied)
        {
            operation.SetResult();
            return result;
        }

        // The call returns now; the pool stays busy until the plan's instances are ready and removed ones drained.
        _ = WatchConvergenceAsync(planName, operation);
        return result;
    }

    private bool TryBegin(string pool, Task operation, string? plan)
    {
        lock (_running)
        {
            if (IsRunning(pool))
            {
                return false;
            }

            _running[pool] = (operation, plan);
            return true;
        }
    }

    private ConfigChangeResult Busy(string pool) => new(
        ConfigChangeOutcome.Conflict,
        _config.Current.Generation,
        _config.Current.ConfigSha256,
        [new ConfigError($"workerPools['{pool}']", $"worker pool '{pool}' is already being scaled; try again when that operation has finished")]);

    private static EditResult EditPool(byte[] bytes, GatewayConfig config, string poolName, int workerCount)
    {
        var pools = config.WorkerPools ?? [];
        var index = Array.FindIndex(pools, p => string.Equals(p.Name, poolName, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
        {
            return EditResult.NotFound("workerPools", $"there is no worker pool named '{poolName}'");
        }

        var pool = pools[index];
        var path = $"workerPools[{index}].workerCount";
        if (pool.Workers is { } statics && workerCount > statics.Length)
        {
            return EditResult.Conflict(path, $"worker pool '{pool.Name}' lists {statics.Length} static workers; a static pool can only enable listed workers");
        }

        var holders = new List<string>();
        var used = 0;
        foreach (var plan in config.Plans ?? [])
        {
            if (string.Equals(plan.WorkerPool, pool.Name, StringComparison.OrdinalIgnoreCase))
            {
                used += plan.InstanceCount ?? 0;
                holders.Add($"{plan.Name} ({plan.InstanceCount})");
            }
        }

        if (workerCount < used)
        {
            return EditResult.Conflict(path, $"worker pool '{pool.Name}' cannot shrink to {workerCount}: its plans {string.Join(", ", holders)} hold {used} workers; scale those plans in first");
        }

        var total = workerCount;
        foreach (var other in pools)
        {
            if (!ReferenceEquals(other, pool))
            {
                total += other.WorkerCount ?? other.Workers?.Length ?? 0;
            }
        }

        var max = config.MaxTotalWorkers ?? ConfigDefaults.MaxTotalWorkers;
        if (total > max)
        {
            return EditResult.Conflict(path, $"the environment would have {total} workers, above its limit of {max} (maxTotalWorkers)");
        }

        return EditResult.Changed(JsonTextEditor.SetNumber(bytes, "workerPools", index, "workerCount", workerCount));
    }

    private static EditResult EditPlan(byte[] bytes, GatewayConfig config, string planName, int instanceCount)
    {
        var plans = config.Plans ?? [];
        var index = Array.FindIndex(plans, p => string.Equals(p.Name, planName, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
        {
            return EditResult.NotFound("plans", $"there is no plan named '{planName}'");
        }

        var plan = plans[index];
        var pool = Array.Find(config.WorkerPools ?? [], p => string.Equals(p.Name, plan.WorkerPool, StringComparison.OrdinalIgnoreCase))!;
        var capacity = pool.WorkerCount ?? pool.Workers?.Length ?? 0;
        var others = new List<string>();
        var usedByOthers = 0;
        foreach (var other in plans)
        {
            if (!ReferenceEquals(other, plan) && string.Equals(other.WorkerPool, pool.Name, StringComparison.OrdinalIgnoreCase))
            {
                usedByOthers += other.InstanceCount ?? 0;
                others.Add($"{other.Name} ({other.InstanceCount})");
            }
        }

        if (instanceCount > capacity - usedByOthers)
        {
            var held = others.Count == 0 ? string.Empty : $"; plans {string.Join(", ", others)} hold {usedByOthers}";
            return EditResult.Conflict($"plans[{index}].instanceCount", $"worker pool '{pool.Name}' has {capacity} workers{held}, so plan '{plan.Name}' can have at most {capacity - usedByOthers} instances: scale the pool out first");
        }

        return EditResult.Changed(JsonTextEditor.SetNumber(bytes, "plans", index, "instanceCount", instanceCount));
    }

    private async Task WatchConvergenceAsync(string planName, TaskCompletionSource operation)
    {
        try
        {
            var started = _time.GetTimestamp();
            while (_time.GetElapsedTime(started) < ConvergenceLimit && !_instances.PlanConverged(_config.Current, planName))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), _time);
            }
        }
        finally
        {
            operation.TrySetResult();
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.ScaleRequested, Level = LogLevel.Information, Message = "Scale {Kind} '{Name}' to {Count} requested through the management API.")]
    private static partial void LogScale(ILogger logger, string kind, string name, int count);
}
