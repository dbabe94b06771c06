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

    /// <summary>Null when the file has no networkSecurityGroup section (every connection is let in).</summary>
    public required Nsg.NsgModel? Nsg { get; init; }

    public required LimitsModel Limits { get; init; }

    /// <summary>Null when no certificates are configured (then there is no Https listener either).</summary>
    public required Tls.TlsModel? Tls { get; init; }

    /// <summary>How long a removed instance may finish in-flight requests before it is stopped anyway.</summary>
    public required TimeSpan DrainTimeout { get; init; }

    /// <summary>How long a process instance may take to exit after SIGTERM before it is killed.</summary>
    public required TimeSpan StopTimeout { get; init; }

    /// <summary>The access log's settings (<see cref="Observability.AccessLogModel.Disabled"/> when the file has none).</summary>
    public required Observability.AccessLogModel AccessLog { get; init; }
}

/// <summary>Connection caps and timeouts with their defaults applied.</summary>
internal sealed record LimitsModel(
    int MaxConcurrentConnections,
    int MaxConnectionsPerClient,
    TimeSpan RequestHeadersTimeout,
    TimeSpan KeepAliveTimeout,
    int MaxRequestHeadersTotalSize,
    long MaxRequestBodySize,
    double MinRequestBodyBytesPerSecond,
    double MinResponseBytesPerSecond,
    int Http2MaxStreamsPerConnection,
    TimeSpan SendTimeout,
    int ClientSendBufferSize,
    int MaxRanges)
{
    /// <summary>How long a client may send or take data below the minimum rates before they apply (Kestrel's default).</summary>
    public static readonly TimeSpan DataRateGracePeriod = TimeSpan.FromSeconds(5);

    public static LimitsModel From(LimitsConfig? config) => new(
        config?.MaxConcurrentConnections ?? 10_000,
        config?.MaxConnectionsPerClient ?? 200,
        TimeSpan.FromSeconds(config?.RequestHeadersTimeoutSeconds ?? 10),
        TimeSpan.FromSeconds(config?.KeepAliveTimeoutSeconds ?? 120),
        (config?.MaxRequestHeadersTotalSizeInKb ?? 32) * 1024,
        (config?.MaxRequestBodySizeInMb ?? 100) * 1024L * 1024L,
        config?.MinRequestBodyBytesPerSecond ?? 240,
        config?.MinResponseBytesPerSecond ?? 240,
        config?.Http2MaxStreamsPerConnection ?? 100,
        TimeSpan.FromSeconds(config?.SendTimeoutSeconds ?? 60),
        (config?.ClientSendBufferSizeInKb ?? 0) * 1024,
        config?.MaxRanges ?? 200);
}

internal sealed record ListenerModel(string Name, string Address, int Port, ListenerProtocol Protocol);

internal sealed record ManagementModel(string Address, int Port, IReadOnlyList<ApiKeyModel> ApiKeys, long MaxRequestBodyBytes, bool MetricsRequireApiKey)
{
    /// <summary>The socket it binds: a change needs a restart.</summary>
    public bool SameEndpoint(ManagementModel other) => Address == other.Address && Port == other.Port;
}

/// <summary>An API key the management listener accepts: only its SHA-256 is kept.</summary>
internal sealed record ApiKeyModel(string Name, byte[] Sha256, ApiKeyRole Role);

internal sealed record HealthCheckModel(string? Path, TimeSpan Interval, TimeSpan Timeout, int MaxPingFailures, int MaxUnhealthyPercent);
