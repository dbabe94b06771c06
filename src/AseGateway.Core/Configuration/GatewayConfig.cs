using System.Text.Json.Serialization;

namespace AseGateway.Configuration;

// The *Config records are the user's input exactly as written in ase.json: immutable, nullable where the
// file may omit a value. Defaults are applied when the snapshot is compiled, never here, so that the
// validator can tell "omitted" from "set to the default" and the management API can write the file back
// without inventing values the user never wrote.

/// <summary>The whole configuration file: one App Service Environment front end.</summary>
public sealed record GatewayConfig
{
    /// <summary>Lets editors find the JSON Schema; ignored by the gateway.</summary>
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    /// <summary>The environment's name (an ASE name: letters, digits and hyphens).</summary>
    public string? Name { get; init; }

    /// <summary>Apps answer at <c>{app}.{dnsSuffix}</c> besides their host names.</summary>
    public string? DnsSuffix { get; init; }

    /// <summary>The most workers all pools may have together (ASE default 50).</summary>
    public int? MaxTotalWorkers { get; init; }

    public FrontEndConfig? FrontEnd { get; init; }

    /// <summary>Environment-wide health-check settings; an app may override them.</summary>
    public HealthCheckConfig? HealthCheck { get; init; }

    public WorkerPoolConfig[]? WorkerPools { get; init; }

    public PlanConfig[]? Plans { get; init; }

    public AppConfig[]? Apps { get; init; }

    /// <summary>How instances are stopped when a reload or scale-in removes them.</summary>
    public InstancesConfig? Instances { get; init; }

    /// <summary>How the configuration file is watched for changes.</summary>
    public ReloadConfig? Reload { get; init; }

    public ManagementConfig? Management { get; init; }
}

public sealed record InstancesConfig
{
    /// <summary>How long a removed instance may finish in-flight requests before it is stopped anyway (default 30).</summary>
    public int? DrainTimeoutSeconds { get; init; }

    /// <summary>How long a process instance may take to exit after SIGTERM before it is killed (default 10).</summary>
    public int? StopTimeoutSeconds { get; init; }
}

public sealed record ReloadConfig
{
    /// <summary>Re-read the file at this interval even without file events (default 5; 0 turns polling off).</summary>
    public int? PollIntervalSeconds { get; init; }

    /// <summary>Wait this long after the last file event before reloading (default 250).</summary>
    public int? DebounceMilliseconds { get; init; }
}

public sealed record FrontEndConfig
{
    public ListenerConfig[]? Listeners { get; init; }

    public TlsConfig? Tls { get; init; }

    /// <summary>Peers (CIDR or address) whose X-Forwarded-* headers are believed, e.g. an upstream WAF subnet.</summary>
    public string[]? TrustedForwarders { get; init; }
}

public sealed record ListenerConfig
{
    public string? Name { get; init; }

    /// <summary>An IP address, <c>*</c> (every interface, the default) or <c>localhost</c> (both loopbacks).</summary>
    public string? Address { get; init; }

    /// <summary>TCP port; 0 picks a free port (useful in tests).</summary>
    public int? Port { get; init; }

    public ListenerProtocol? Protocol { get; init; }
}

[JsonConverter(typeof(JsonStringEnumConverter<ListenerProtocol>))]
public enum ListenerProtocol
{
    Http,
    Https,
}

public sealed record TlsConfig
{
    public TlsVersion? MinVersion { get; init; }

    public CertificateConfig[]? Certificates { get; init; }
}

[JsonConverter(typeof(JsonStringEnumConverter<TlsVersion>))]
public enum TlsVersion
{
    Tls12,
    Tls13,
}

public sealed record CertificateConfig
{
    /// <summary>A PFX/PKCS#12 file, or a PEM certificate (then <see cref="KeyPath"/> names its key).</summary>
    public string? Path { get; init; }

    public string? KeyPath { get; init; }

    /// <summary>Name of the environment variable that holds the PFX password (never the password itself).</summary>
    public string? PasswordEnvironmentVariable { get; init; }
}

public sealed record HealthCheckConfig
{
    /// <summary>Seconds between pings of each instance (App Service: 60).</summary>
    public int? IntervalSeconds { get; init; }

    public int? TimeoutSeconds { get; init; }

    /// <summary>Consecutive failed pings before an instance is removed (App Service: 10, allowed 2–10).</summary>
    public int? MaxPingFailures { get; init; }

    /// <summary>At most this share of an app's instances is ever excluded for failing health (App Service: 50).</summary>
    public int? MaxUnhealthyPercent { get; init; }
}

public sealed record WorkerPoolConfig
{
    public string? Name { get; init; }

    public WorkerSize? WorkerSize { get; init; }

    public int? WorkerCount { get; init; }

    /// <summary>Static workers (real machines). Absent: the gateway runs each instance as a local process.</summary>
    public WorkerConfig[]? Workers { get; init; }
}

[JsonConverter(typeof(JsonStringEnumConverter<WorkerSize>))]
public enum WorkerSize
{
    Small,
    Medium,
    Large,
}

public sealed record WorkerConfig
{
    /// <summary>Absolute http(s) URL of the worker, e.g. <c>http://10.0.2.4:80</c>.</summary>
    public string? Address { get; init; }
}

public sealed record PlanConfig
{
    public string? Name { get; init; }

    public string? WorkerPool { get; init; }

    public int? InstanceCount { get; init; }
}

public sealed record AppConfig
{
    public string? Name { get; init; }

    public string? Plan { get; init; }

    public string[]? HostNames { get; init; }

    /// <summary>How to start the app on a process instance; required on process pools, forbidden on static ones.</summary>
    public RunConfig? Run { get; init; }

    public string? HealthCheckPath { get; init; }

    public HealthCheckConfig? HealthCheck { get; init; }

    /// <summary>ARR affinity cookies (App Service default: on).</summary>
    public bool? ClientAffinityEnabled { get; init; }

    /// <summary>A YARP load-balancing policy name; default PowerOfTwoChoices.</summary>
    public string? LoadBalancing { get; init; }
}

public sealed record RunConfig
{
    public string? Command { get; init; }

    public string[]? Args { get; init; }

    /// <summary>Relative to the configuration file's folder; default that folder.</summary>
    public string? WorkingDirectory { get; init; }

    public Dictionary<string, string>? Environment { get; init; }
}

public sealed record ManagementConfig
{
    /// <summary>Loopback by default: the management listener is never public unless asked.</summary>
    public string? Address { get; init; }

    public int? Port { get; init; }

    /// <summary>Keys that may call the API. Only SHA-256 hashes are stored, or the name of an environment variable holding the key.</summary>
    public ApiKeyConfig[]? ApiKeys { get; init; }

    /// <summary>The largest request body the API accepts (default 1024 KB).</summary>
    public int? MaxRequestBodySizeInKb { get; init; }
}

public sealed record ApiKeyConfig
{
    public string? Name { get; init; }

    /// <summary>Lower-case hex SHA-256 of the key (<c>printf %s "$KEY" | sha256sum</c>).</summary>
    public string? Sha256 { get; init; }

    /// <summary>Alternatively, an environment variable that holds the plain key (hashed at load, never stored or logged).</summary>
    public string? EnvironmentVariable { get; init; }

    /// <summary>Admin (default) may change the environment; Reader may only read.</summary>
    public ApiKeyRole? Role { get; init; }
}

[JsonConverter(typeof(JsonStringEnumConverter<ApiKeyRole>))]
public enum ApiKeyRole
{
    Admin,
    Reader,
}
