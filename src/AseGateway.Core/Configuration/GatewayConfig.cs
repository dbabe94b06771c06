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

    /// <summary>Inbound rules checked per connection, before TLS, like an Azure NSG on the ASE subnet.</summary>
    public NetworkSecurityGroupConfig? NetworkSecurityGroup { get; init; }

    public WafPolicyConfig[]? WafPolicies { get; init; }

    /// <summary>The WAF policy of apps that name none.</summary>
    public string? DefaultWafPolicy { get; init; }

    /// <summary>Where WAF findings are written, one JSON line each (Azure ApplicationGatewayFirewallLog fields).</summary>
    public WafAuditLogConfig? WafAuditLog { get; init; }

    /// <summary>Environment-wide health-check settings; an app may override them.</summary>
    public HealthCheckConfig? HealthCheck { get; init; }

    public WorkerPoolConfig[]? WorkerPools { get; init; }

    public PlanConfig[]? Plans { get; init; }

    public AppConfig[]? Apps { get; init; }

    /// <summary>How instances are stopped when a reload or scale-in removes them.</summary>
    public InstancesConfig? Instances { get; init; }

    /// <summary>How the configuration file is watched for changes.</summary>
    public ReloadConfig? Reload { get; init; }

    /// <summary>Environment-wide retry of idempotent requests that failed before any response; an app may override it.</summary>
    public RetryConfig? Retry { get; init; }

    public ManagementConfig? Management { get; init; }

    /// <summary>Access log and distributed tracing.</summary>
    public ObservabilityConfig? Observability { get; init; }
}

public sealed record InstancesConfig
{
    /// <summary>How long a removed instance may finish in-flight requests before it is stopped anyway (default 30).</summary>
    public int? DrainTimeoutSeconds { get; init; }

    /// <summary>How long a process instance may take to exit after SIGTERM before it is killed (default 10).</summary>
    public int? StopTimeoutSeconds { get; init; }
}

/// <summary>
/// Retry on another instance when an idempotent request without a body could not get a response (connection refused
/// or reset before any response byte). Never for POST/PATCH, requests with a body, or once the response has started.
/// </summary>
public sealed record RetryConfig
{
    /// <summary>Default true.</summary>
    public bool? Enabled { get; init; }

    /// <summary>Attempts in all, the first included (default 2: one retry; 1-5).</summary>
    public int? MaxAttempts { get; init; }
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

    public LimitsConfig? Limits { get; init; }

    public ForwardingConfig? Forwarding { get; init; }
}

/// <summary>Connection caps and timeouts, with edge-proxy defaults (Envoy's edge best practices).</summary>
public sealed record LimitsConfig
{
    /// <summary>Open connections on all listeners together (default 10000).</summary>
    public int? MaxConcurrentConnections { get; init; }

    /// <summary>Open connections from one client address (default 200); more are refused at accept.</summary>
    public int? MaxConnectionsPerClient { get; init; }

    /// <summary>Time a client has to send all request headers (default 10).</summary>
    public int? RequestHeadersTimeoutSeconds { get; init; }

    /// <summary>Idle time before a keep-alive connection is closed (default 120).</summary>
    public int? KeepAliveTimeoutSeconds { get; init; }

    /// <summary>Largest request header block (default 32).</summary>
    public int? MaxRequestHeadersTotalSizeInKb { get; init; }

    /// <summary>Largest request body (default 100 MB, as App Service's front end).</summary>
    public int? MaxRequestBodySizeInMb { get; init; }

    /// <summary>Slowest request body a client may send, after a 5 s grace (default 240 bytes/s).</summary>
    public int? MinRequestBodyBytesPerSecond { get; init; }

    /// <summary>Slowest a client may read a response, after a 5 s grace (default 240 bytes/s).</summary>
    public int? MinResponseBytesPerSecond { get; init; }

    /// <summary>Concurrent HTTP/2 streams per connection (default 100).</summary>
    public int? Http2MaxStreamsPerConnection { get; init; }

    /// <summary>Longest a client may leave the gateway's output unread before its connection is closed (default 60, nginx's send_timeout; 0 turns it off).</summary>
    public int? SendTimeoutSeconds { get; init; }

    /// <summary>Kernel send buffer of each client socket, in KB (default 0: the kernel's own, which Linux grows up to 4 MB).</summary>
    public int? ClientSendBufferSizeInKb { get; init; }

    /// <summary>Most byte ranges a request may ask for (default 200, Apache's MaxRanges); more and the Range header is dropped.</summary>
    public int? MaxRanges { get; init; }
}

public sealed record NetworkSecurityGroupConfig
{
    /// <summary>Service tags usable as sources: VirtualNetwork and AzureLoadBalancer (built-in defaults), and your own.</summary>
    public Dictionary<string, string[]>? ServiceTags { get; init; }

    public SecurityRuleConfig[]? SecurityRules { get; init; }
}

/// <summary>An inbound NSG rule, as Azure writes it.</summary>
public sealed record SecurityRuleConfig
{
    public string? Name { get; init; }

    public string? Description { get; init; }

    /// <summary>100-4096, unique; lower is checked first and the first match decides.</summary>
    public int? Priority { get; init; }

    public SecurityRuleAccess? Access { get; init; }

    /// <summary>Tcp or * (this gateway accepts TCP only; Udp/Icmp rules never match).</summary>
    public string? Protocol { get; init; }

    /// <summary>Only Inbound rules exist for a front end; accepted for compatibility with Azure's JSON.</summary>
    public string? Direction { get; init; }

    public string? SourceAddressPrefix { get; init; }

    public string[]? SourceAddressPrefixes { get; init; }

    public string? DestinationPortRange { get; init; }

    public string[]? DestinationPortRanges { get; init; }
}

[JsonConverter(typeof(StrictEnumConverter<SecurityRuleAccess>))]
public enum SecurityRuleAccess
{
    Allow,
    Deny,
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

[JsonConverter(typeof(StrictEnumConverter<ListenerProtocol>))]
public enum ListenerProtocol
{
    Http,
    Https,

    /// <summary>HTTP/2 in clear text with prior knowledge (h2c, RFC 9113 §3.3): no HTTP/1.1, no TLS.</summary>
    Http2,
}

public sealed record TlsConfig
{
    public TlsVersion? MinVersion { get; init; }

    /// <summary>Offer HTTP/2 by ALPN (default true); HTTP/1.1 is always offered.</summary>
    public bool? Http2 { get; init; }

    public CertificateConfig[]? Certificates { get; init; }
}

[JsonConverter(typeof(StrictEnumConverter<TlsVersion>))]
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

    /// <summary>Serve this certificate when no other matches the client's SNI name (default: the first listed).</summary>
    public bool? Default { get; init; }
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

[JsonConverter(typeof(StrictEnumConverter<WorkerSize>))]
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

    /// <summary>Redirect plain HTTP requests to HTTPS with 301, as App Service's "HTTPS Only".</summary>
    public bool? HttpsOnly { get; init; }

    /// <summary>Send Strict-Transport-Security on HTTPS responses.</summary>
    public HstsConfig? Hsts { get; init; }

    /// <summary>Ignore (default), Optional or Required: whether the client is asked for a certificate.</summary>
    public ClientCertMode? ClientCertMode { get; init; }

    /// <summary>Paths (prefixes) where a Required client certificate is not required.</summary>
    public string[]? ClientCertExclusionPaths { get; init; }

    public AccessRestrictionsConfig? AccessRestrictions { get; init; }

    /// <summary>The WAF policy for this app (default: the environment's defaultWafPolicy, if any).</summary>
    public string? WafPolicy { get; init; }

    /// <summary>Overrides the environment's retry settings for this app.</summary>
    public RetryConfig? Retry { get; init; }
}

public sealed record WafAuditLogConfig
{
    /// <summary>A file (relative to this file) that rotates at maxFileSizeInMb; absent: no file.</summary>
    public string? Path { get; init; }

    public bool? Console { get; init; }

    public int? MaxFileSizeInMb { get; init; }

    public int? MaxFiles { get; init; }
}

public sealed record HstsConfig
{
    public int? MaxAgeSeconds { get; init; }

    public bool? IncludeSubDomains { get; init; }

    public bool? Preload { get; init; }
}

[JsonConverter(typeof(StrictEnumConverter<ClientCertMode>))]
public enum ClientCertMode
{
    Ignore,
    Optional,
    Required,
}

/// <summary>App Service access restrictions: checked per request against the client address (and headers).</summary>
public sealed record AccessRestrictionsConfig
{
    /// <summary>What happens when no rule matches: Allow when there are no rules, Deny when there are (App Service's implicit deny).</summary>
    public SecurityRuleAccess? DefaultAction { get; init; }

    public AccessRuleConfig[]? Rules { get; init; }
}

public sealed record AccessRuleConfig
{
    public string? Name { get; init; }

    public string? Description { get; init; }

    public int? Priority { get; init; }

    public SecurityRuleAccess? Action { get; init; }

    /// <summary>Up to 8 CIDR ranges or addresses, comma-separated.</summary>
    public string? IpAddress { get; init; }

    /// <summary>A service tag of the NSG section (or a built-in one) instead of addresses.</summary>
    public string? ServiceTag { get; init; }

    /// <summary>Header filters, ANDed with the rule: X-Forwarded-For, X-Forwarded-Host, X-Azure-FDID, X-FD-HealthProbe; up to 8 values each.</summary>
    public Dictionary<string, string[]>? Headers { get; init; }
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

    /// <summary>GET /metrics needs an API key (default true); false lets a Prometheus scraper in without one.</summary>
    public bool? MetricsRequireApiKey { get; init; }
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

[JsonConverter(typeof(StrictEnumConverter<ApiKeyRole>))]
public enum ApiKeyRole
{
    Admin,
    Reader,
}
