using System.Collections.Frozen;
using AseGateway.Configuration;

namespace AseGateway.Model;

/// <summary>
/// One compiled, immutable version of the configuration. The data plane reads the current snapshot once per
/// request; the control plane replaces it whole (never mutates it).
/// </summary>
internal sealed class GatewaySnapshot
{
    public required long Generation { get; init; }

    public required GatewayConfig Config { get; init; }

    public required string ConfigSha256 { get; init; }

    public required string SourceName { get; init; }

    public required DateTimeOffset LoadedAt { get; init; }

    public required string EnvironmentName { get; init; }

    public required string? DnsSuffix { get; init; }

    public required IReadOnlyList<ListenerModel> Listeners { get; init; }

    public required IpPrefixSet TrustedForwarders { get; init; }

    public required FrozenDictionary<string, AppModel> Apps { get; init; }

    /// <summary>Every (app, plan instance) the configuration asks for, in a stable order.</summary>
    public required IReadOnlyList<InstanceSpec> Instances { get; init; }

    public required ManagementModel Management { get; init; }
}

internal sealed record ListenerModel(string Name, string Address, int Port, ListenerProtocol Protocol);

internal sealed record ManagementModel(string Address, int Port);

internal sealed record HealthCheckModel(string? Path, TimeSpan Interval, TimeSpan Timeout, int MaxPingFailures, int MaxUnhealthyPercent);
