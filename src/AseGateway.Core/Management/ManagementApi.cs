using AseGateway.Configuration;
using AseGateway.Control;
using AseGateway.Instances;
using AseGateway.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace AseGateway.Management;

/// <summary>
/// The management API: the environment, worker pools and plans (with scaling), apps and their instances (with
/// drain), and the configuration file itself (GET with ETag, PUT with If-Match, validate, status, reload).
/// </summary>
internal static class ManagementApi
{
    public static void MapManagementApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api");
        api.MapGet("/environment", GetEnvironment);

        var pools = api.MapGroup("/workerPools").WithTags("Worker pools");
        pools.MapGet("/", ListPools);
        pools.MapGet("/{name}", GetPool);
        pools.MapPost("/{name}/scale", ScalePoolAsync);

        var plans = api.MapGroup("/plans").WithTags("Plans");
        plans.MapGet("/", ListPlans);
        plans.MapGet("/{name}", GetPlan);
        plans.MapPost("/{name}/scale", ScalePlanAsync);

        var apps = api.MapGroup("/apps").WithTags("Apps");
        apps.MapGet("/", ListApps);
        apps.MapGet("/{name}", GetApp);
        apps.MapGet("/{name}/instances", ListInstances);
        apps.MapPost("/{name}/instances/{index:int}/drain", DrainAsync);

        var nsg = api.MapGroup("/nsg").WithTags("Network security group");
        nsg.MapGet("/", ListNsgRules);
        nsg.MapGet("/explain", ExplainNsg);

        var config = api.MapGroup("/config").WithTags("Configuration");
        config.MapGet("/", GetConfigAsync);
        config.MapPut("/", PutConfigAsync);
        config.MapPost("/validate", ValidateConfigAsync);
        config.MapGet("/status", GetStatus);
        config.MapPost("/reload", ReloadAsync);
    }

    private static Ok<EnvironmentDto> GetEnvironment(SnapshotHolder snapshots)
    {
        var snapshot = snapshots.Current;
        var usage = new List<PoolUsageDto>();
        int total = 0, used = 0;
        foreach (var pool in snapshot.Config.WorkerPools ?? [])
        {
            var workers = WorkerCount(pool);
            var poolUsed = Used(snapshot, pool.Name!);
            usage.Add(new PoolUsageDto(pool.Name!, workers, poolUsed, workers - poolUsed));
            total += workers;
            used += poolUsed;
        }

        return TypedResults.Ok(new EnvironmentDto(snapshot.EnvironmentName, snapshot.DnsSuffix, snapshot.Generation, snapshot.Config.MaxTotalWorkers ?? ConfigDefaults.MaxTotalWorkers, total, used, usage));
    }

    private static Ok<List<WorkerPoolDto>> ListPools(SnapshotHolder snapshots, ScaleService scaling)
    {
        var snapshot = snapshots.Current;
        var list = new List<WorkerPoolDto>();
        foreach (var pool in snapshot.Config.WorkerPools ?? [])
        {
            list.Add(ToDto(snapshot, pool, scaling));
        }

        return TypedResults.Ok(list);
    }

    private static Results<Ok<WorkerPoolDto>, ProblemHttpResult> GetPool(string name, SnapshotHolder snapshots, ScaleService scaling)
    {
        var snapshot = snapshots.Current;
        var pool = FindPool(snapshot, name);
        return pool is null ? NotFound("worker pool", name) : TypedResults.Ok(ToDto(snapshot, pool, scaling));
    }

    private static async Task<Results<Accepted<AcceptedDto>, ProblemHttpResult>> ScalePoolAsync(string name, WorkerCountRequest request, ScaleService scaling, CancellationToken cancellationToken)
    {
        if (request.WorkerCount is not { } count || count < 0)
        {
            return Problems.Create(StatusCodes.Status422UnprocessableEntity, "Invalid request", "workerCount must be a whole number of at least 0.");
        }

        var result = await scaling.ScalePoolAsync(name, count, cancellationToken);
        return ToAccepted(result, $"/api/workerPools/{name}");
    }

    private static Ok<List<PlanDto>> ListPlans(SnapshotHolder snapshots, ScaleService scaling, InstanceManager instances)
    {
        var snapshot = snapshots.Current;
        var list = new List<PlanDto>();
        foreach (var plan in snapshot.Config.Plans ?? [])
        {
            list.Add(ToDto(snapshot, plan, scaling, instances));
        }

        return TypedResults.Ok(list);
    }

    private static Results<Ok<PlanDto>, ProblemHttpResult> GetPlan(string name, SnapshotHolder snapshots, ScaleService scaling, InstanceManager instances)
    {
        var snapshot = snapshots.Current;
        var plan = Array.Find(snapshot.Config.Plans ?? [], p => Same(p.Name, name));
        return plan is null ? NotFound("plan", name) : TypedResults.Ok(ToDto(snapshot, plan, scaling, instances));
    }

    private static async Task<Results<Accepted<AcceptedDto>, ProblemHttpResult>> ScalePlanAsync(string name, InstanceCountRequest request, ScaleService scaling, CancellationToken cancellationToken)
    {
        if (request.InstanceCount is not { } count || count < 1)
        {
            return Problems.Create(StatusCodes.Status422UnprocessableEntity, "Invalid request", "instanceCount must be a whole number of at least 1.");
        }

        var result = await scaling.ScalePlanAsync(name, count, cancellationToken);
        return ToAccepted(result, $"/api/plans/{name}");
    }

    private static Ok<List<AppDto>> ListApps(SnapshotHolder snapshots, InstanceManager instances)
    {
        var snapshot = snapshots.Current;
        var list = new List<AppDto>();
        foreach (var app in snapshot.Apps.Values)
        {
            list.Add(ToDto(snapshot, app, instances));
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return TypedResults.Ok(list);
    }

    private static Results<Ok<AppDto>, ProblemHttpResult> GetApp(string name, SnapshotHolder snapshots, InstanceManager instances)
    {
        var snapshot = snapshots.Current;
        return snapshot.Apps.TryGetValue(name, out var app) ? TypedResults.Ok(ToDto(snapshot, app, instances)) : NotFound("app", name);
    }

    private static Results<Ok<List<InstanceDto>>, ProblemHttpResult> ListInstances(string name, SnapshotHolder snapshots, InstanceManager instances)
    {
        var snapshot = snapshots.Current;
        if (!snapshot.Apps.TryGetValue(name, out var app))
        {
            return NotFound("app", name);
        }

        var available = new HashSet<string>(instances.AvailableInstances(app.Name), StringComparer.Ordinal);
        var list = new List<InstanceDto>();
        foreach (var runtime in instances.Registry.Snapshot())
        {
            var state = runtime.State;
            if (Same(state.Spec.AppName, app.Name))
            {
                list.Add(ToDto(state, available.Contains(state.Spec.Key) && instances.FindActive(state.Spec.Key) == state, instances.InFlight(state)));
            }
        }

        return TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<DrainDto>, Accepted<DrainDto>, ProblemHttpResult>> DrainAsync(string name, int index, bool? wait, SnapshotHolder snapshots, InstanceManager instances)
    {
        var snapshot = snapshots.Current;
        if (!snapshot.Apps.TryGetValue(name, out var app))
        {
            return NotFound("app", name);
        }

        var key = $"{app.Name}/{app.PlanName}/{index}";
        var watch = $"/api/apps/{app.Name}/instances";
        var drain = instances.Drain(key);
        if (drain is null)
        {
            return NotFound("instance", key);
        }

        if (wait != true)
        {
            return TypedResults.Accepted(watch, new DrainDto(key, false, watch));
        }

        await drain;
        return TypedResults.Ok(new DrainDto(key, true, watch));
    }

    private static Ok<List<NsgRuleDto>> ListNsgRules(SnapshotHolder snapshots, Nsg.NsgCounters counters)
    {
        var list = new List<NsgRuleDto>();
        foreach (var rule in snapshots.Current.Nsg?.Rules ?? [])
        {
            var sources = new List<string>();
            foreach (var (source, _) in rule.Sources)
            {
                sources.Add(source);
            }

            var ports = new List<string>();
            foreach (var port in rule.Ports)
            {
                ports.Add(port.From == port.To ? port.From.ToString(System.Globalization.CultureInfo.InvariantCulture) : port == Networking.PortRange.All ? "*" : $"{port.From}-{port.To}");
            }

            list.Add(new NsgRuleDto(rule.Name, rule.Priority, rule.Access.ToString(), rule.IsDefault, sources, ports, counters.Denied(rule.Name)));
        }

        return TypedResults.Ok(list);
    }

    /// <summary>Which rule decides a connection from <paramref name="source"/> to <paramref name="port"/>, and why.</summary>
    private static Results<Ok<NsgExplanationDto>, ProblemHttpResult> ExplainNsg(string? source, int? port, SnapshotHolder snapshots)
    {
        if (!System.Net.IPAddress.TryParse(source, out var address) || port is not (>= 0 and <= 65535))
        {
            return Problems.Create(StatusCodes.Status422UnprocessableEntity, "Invalid request", "Give ?source=<IP address>&port=<0-65535>.");
        }

        if (snapshots.Current.Nsg is not { } nsg)
        {
            return TypedResults.Ok(new NsgExplanationDto(address.ToString(), port.Value, "Allow", null, null, "the configuration has no networkSecurityGroup: every connection is allowed"));
        }

        var decision = nsg.Explain(address, port.Value);
        return TypedResults.Ok(new NsgExplanationDto(address.ToString(), port.Value, decision.Access.ToString(), decision.Rule, decision.Priority, decision.Reason));
    }

    private static async Task<IResult> GetConfigAsync(ConfigController config, HttpContext context)
    {
        var bytes = await config.Source.ReadAsync(context.RequestAborted);
        context.Response.Headers.ETag = $"\"{ConfigLoader.Hash(bytes)}\"";
        return TypedResults.Bytes(bytes, "application/json");
    }

    private static async Task<Results<Ok<ConfigChangeDto>, ProblemHttpResult>> PutConfigAsync(HttpContext context, ConfigController config)
    {
        var ifMatch = context.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length == 0)
        {
            return Problems.Create(StatusCodes.Status428PreconditionRequired, "If-Match is required", "GET /api/config, edit it, and send it back with If-Match set to the ETag you got, so that no change made in between is lost.");
        }

        var body = await ReadBodyAsync(context);
        var expected = ifMatch.Trim() == "*" ? null : ifMatch.Trim().Trim('"');
        var result = await config.ReplaceAsync(body, expected, "API: PUT /api/config", context.RequestAborted);
        return result.Outcome switch
        {
            ConfigChangeOutcome.PreconditionFailed => Problems.Create(StatusCodes.Status412PreconditionFailed, "The configuration changed", $"The configuration is now version {result.Sha256}: GET it again and re-apply your change."),
            ConfigChangeOutcome.Invalid => Problems.Create(StatusCodes.Status422UnprocessableEntity, "Invalid configuration", $"{result.Errors.Count} error(s); nothing was changed.", result.Errors),
            _ => TypedResults.Ok(new ConfigChangeDto(result.Outcome.ToString(), result.Generation, result.Sha256)),
        };
    }

    private static async Task<Results<Ok<ValidationDto>, UnprocessableEntity<ValidationDto>>> ValidateConfigAsync(HttpContext context, ConfigController config)
    {
        var loaded = config.Validate(await ReadBodyAsync(context));
        var dto = new ValidationDto(loaded.IsValid, loaded.Sha256, ToDtos(loaded.Errors));
        return loaded.IsValid ? TypedResults.Ok(dto) : TypedResults.UnprocessableEntity(dto);
    }

    private static Ok<ConfigStatusDto> GetStatus(ConfigController config)
    {
        var status = config.Status;
        var error = status.LastError is { } failure ? new ConfigFailureDto(failure.At, failure.Sha256, failure.Trigger, ToDtos(failure.Errors)) : null;
        return TypedResults.Ok(new ConfigStatusDto(status.Generation, status.Source, status.Sha256, status.LoadedAt, error, status.PendingRestart));
    }

    private static async Task<Results<Ok<ConfigChangeDto>, ProblemHttpResult>> ReloadAsync(ConfigController config, CancellationToken cancellationToken)
    {
        var result = await config.ReloadAsync("API: POST /api/config/reload", cancellationToken);
        return result.Outcome == ConfigChangeOutcome.Invalid
            ? Problems.Create(StatusCodes.Status422UnprocessableEntity, "Invalid configuration", $"The file has {result.Errors.Count} error(s); generation {result.Generation} keeps serving.", result.Errors)
            : TypedResults.Ok(new ConfigChangeDto(result.Outcome.ToString(), result.Generation, result.Sha256));
    }

    private static Results<Accepted<AcceptedDto>, ProblemHttpResult> ToAccepted(ConfigChangeResult result, string watch) => result.Outcome switch
    {
        ConfigChangeOutcome.Applied or ConfigChangeOutcome.Unchanged => TypedResults.Accepted(watch, new AcceptedDto("Accepted", result.Generation, watch)),
        ConfigChangeOutcome.Conflict => Problems.Create(StatusCodes.Status409Conflict, "The change conflicts with the environment", result.Errors.Count > 0 ? result.Errors[0].Message : "conflict", result.Errors),
        ConfigChangeOutcome.Invalid when result.Errors is [{ Path: "workerPools" or "plans" } single] && single.Message.StartsWith("there is no", StringComparison.Ordinal)
            => Problems.Create(StatusCodes.Status404NotFound, "Not found", single.Message),
        _ => Problems.Create(StatusCodes.Status422UnprocessableEntity, "Invalid configuration", "The change would make the configuration invalid; nothing was changed.", result.Errors),
    };

    private static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        return buffer.ToArray();
    }

    private static ProblemHttpResult NotFound(string what, string name) =>
        Problems.Create(StatusCodes.Status404NotFound, "Not found", $"There is no {what} named '{name}'.");

    private static WorkerPoolConfig? FindPool(GatewaySnapshot snapshot, string name) =>
        Array.Find(snapshot.Config.WorkerPools ?? [], p => Same(p.Name, name));

    private static int WorkerCount(WorkerPoolConfig pool) => pool.WorkerCount ?? pool.Workers?.Length ?? 0;

    private static int Used(GatewaySnapshot snapshot, string pool)
    {
        var used = 0;
        foreach (var plan in snapshot.Config.Plans ?? [])
        {
            if (Same(plan.WorkerPool, pool))
            {
                used += plan.InstanceCount ?? 0;
            }
        }

        return used;
    }

    private static WorkerPoolDto ToDto(GatewaySnapshot snapshot, WorkerPoolConfig pool, ScaleService scaling)
    {
        var plans = new List<string>();
        foreach (var plan in snapshot.Config.Plans ?? [])
        {
            if (Same(plan.WorkerPool, pool.Name))
            {
                plans.Add(plan.Name!);
            }
        }

        var workers = WorkerCount(pool);
        var used = Used(snapshot, pool.Name!);
        return new WorkerPoolDto(pool.Name!, (pool.WorkerSize ?? WorkerSize.Small).ToString(), pool.Workers is null ? "Process" : "Static", workers, used, workers - used, plans, scaling.IsScaling(pool.Name!));
    }

    private static PlanDto ToDto(GatewaySnapshot snapshot, PlanConfig plan, ScaleService scaling, InstanceManager instances)
    {
        var apps = new List<string>();
        foreach (var app in snapshot.Apps.Values)
        {
            if (Same(app.PlanName, plan.Name))
            {
                apps.Add(app.Name);
            }
        }

        apps.Sort(StringComparer.Ordinal);
        var ready = 0;
        for (var index = 0; index < (plan.InstanceCount ?? 0); index++)
        {
            var all = apps.Count > 0;
            foreach (var app in apps)
            {
                all &= instances.FindActive($"{app}/{plan.Name}/{index}")?.Phase == InstancePhase.Ready;
            }

            ready += all ? 1 : 0;
        }

        return new PlanDto(plan.Name!, plan.WorkerPool!, plan.InstanceCount ?? 0, ready, apps, scaling.IsScaling(plan.WorkerPool!));
    }

    private static AppDto ToDto(GatewaySnapshot snapshot, AppModel app, InstanceManager instances)
    {
        var count = 0;
        foreach (var spec in snapshot.Instances)
        {
            count += Same(spec.AppName, app.Name) ? 1 : 0;
        }

        return new AppDto(app.Name, app.PlanName, app.PoolName, app.HostNames, app.DefaultHostName, app.LoadBalancingPolicy, app.ClientAffinityEnabled, app.HealthCheck.Path, count, instances.AvailableInstances(app.Name).Count);
    }

    private static InstanceDto ToDto(InstanceState state, bool available, int inFlight)
    {
        var spec = state.Spec;
        var probe = state.LastProbe;
        return new InstanceDto(
            spec.Key,
            spec.InstanceName,
            spec.InstanceId,
            spec.AppName,
            spec.PlanName,
            spec.Index,
            InstanceStateNames.Of(state),
            available,
            state.Address?.AbsoluteUri,
            state.ProcessId,
            inFlight,
            state.ConsecutiveFailures,
            state.Restarts,
            probe is null ? null : new HealthResultDto(probe.At, probe.Healthy, probe.StatusCode, probe.Detail));
    }

    private static List<ErrorDto> ToDtos(IReadOnlyList<ConfigError> errors)
    {
        var list = new List<ErrorDto>(errors.Count);
        foreach (var error in errors)
        {
            list.Add(new ErrorDto(error.Path, error.Message));
        }

        return list;
    }

    private static bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
