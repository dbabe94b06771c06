namespace AseGateway.Management;

// The management API's wire contract. Records, camelCase, enums as strings; nothing here is a config record, so the
// API can evolve its shape without touching the file format. Every type the API reads or writes is listed in
// ManagementJsonContext.

public sealed record ErrorDto(string Path, string Message);

public sealed record EnvironmentDto(string Name, string? DnsSuffix, long Generation, int MaxTotalWorkers, int WorkersTotal, int WorkersUsed, IReadOnlyList<PoolUsageDto> WorkerPools);

public sealed record PoolUsageDto(string Name, int WorkerCount, int WorkersUsed, int WorkersAvailable);

public sealed record WorkerPoolDto(string Name, string WorkerSize, string Kind, int WorkerCount, int WorkersUsed, int WorkersAvailable, IReadOnlyList<string> Plans, bool Scaling);

public sealed record PlanDto(string Name, string WorkerPool, int InstanceCount, int InstancesReady, IReadOnlyList<string> Apps, bool Scaling);

public sealed record AppDto(string Name, string Plan, string WorkerPool, IReadOnlyList<string> HostNames, string DefaultHostName, string LoadBalancing, bool ClientAffinityEnabled, string? HealthCheckPath, int InstanceCount, int InstancesAvailable);

public sealed record InstanceDto(
    string Key,
    string Name,
    string InstanceId,
    string App,
    string Plan,
    int Index,
    string State,
    bool Available,
    string? Address,
    int? ProcessId,
    int InFlight,
    int ConsecutiveFailures,
    int Restarts,
    HealthResultDto? LastHealth);

public sealed record HealthResultDto(DateTimeOffset At, bool Healthy, int? StatusCode, string Detail);

public sealed record NsgRuleDto(string Name, int Priority, string Access, bool IsDefault, IReadOnlyList<string> Sources, IReadOnlyList<string> Ports, long DeniedConnections);

public sealed record NsgExplanationDto(string Source, int Port, string Access, string? Rule, int? Priority, string Reason);

public sealed record WorkerCountRequest(int? WorkerCount);

public sealed record InstanceCountRequest(int? InstanceCount);

/// <summary>A change was accepted; <see cref="Watch"/> is where its progress shows.</summary>
public sealed record AcceptedDto(string Status, long Generation, string Watch);

public sealed record DrainDto(string Instance, bool Drained, string Watch);

public sealed record ConfigStatusDto(long Generation, string Source, string Sha256, DateTimeOffset LoadedAt, ConfigFailureDto? LastError, IReadOnlyList<string> PendingRestart);

public sealed record ConfigFailureDto(DateTimeOffset At, string Sha256, string Trigger, IReadOnlyList<ErrorDto> Errors);

public sealed record ConfigChangeDto(string Outcome, long Generation, string Sha256);

public sealed record ValidationDto(bool Valid, string Sha256, IReadOnlyList<ErrorDto> Errors);

/// <summary>Cumulative counters since start, for the dashboard (it derives rates from two readings).</summary>
public sealed record StatsDto(DateTimeOffset At, long Generation, IReadOnlyList<AppTrafficDto> Apps, AppTrafficDto Unrouted, IReadOnlyList<WafBlockDto> RecentWafBlocks, IReadOnlyList<NsgDenialDto> RecentNsgDenials);

public sealed record AppTrafficDto(string App, long Requests, long ClientErrors, long ServerErrors);

public sealed record WafBlockDto(DateTimeOffset At, string Policy, string RuleId, string Message, string ClientIp, string Host, string TransactionId);

public sealed record NsgDenialDto(DateTimeOffset At, string Rule, string Source, int Port);
