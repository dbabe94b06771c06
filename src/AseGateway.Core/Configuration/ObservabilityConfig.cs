using System.Text.Json.Serialization;

namespace AseGateway.Configuration;

/// <summary>What the gateway tells about the requests it serves: an access log and distributed traces.</summary>
public sealed record ObservabilityConfig
{
    public AccessLogConfig? AccessLog { get; init; }

    public TracingConfig? Tracing { get; init; }
}

/// <summary>
/// One line per request, as App Service's HTTP logs (W3C extended format) or JSON lines. Written off the request
/// path; applied on reload (a new path or format opens a new file at the next request).
/// </summary>
public sealed record AccessLogConfig
{
    /// <summary>Default false: nothing is written unless asked.</summary>
    public bool? Enabled { get; init; }

    /// <summary>W3C (default) or Json.</summary>
    public AccessLogFormat? Format { get; init; }

    /// <summary>The file (relative to the configuration file's folder); required when enabled.</summary>
    public string? Path { get; init; }

    /// <summary>Rotate when the file reaches this size (default 35, App Service's default quota).</summary>
    public int? MaxFileSizeInMb { get; init; }

    /// <summary>Rotated files kept beside the current one (default 5); older ones are deleted.</summary>
    public int? RetainedFiles { get; init; }

    /// <summary>Entries waiting to be written before new ones are dropped and counted (default 10000).</summary>
    public int? QueueCapacity { get; init; }

    /// <summary>Write the request's Cookie header in cs(Cookie) (default false: cookies are session credentials).</summary>
    public bool? IncludeCookies { get; init; }
}

[JsonConverter(typeof(StrictEnumConverter<AccessLogFormat>))]
public enum AccessLogFormat
{
    W3C,
    Json,
}

/// <summary>OpenTelemetry traces of the gateway's requests and its calls to workers, exported over OTLP. Read at start.</summary>
public sealed record TracingConfig
{
    /// <summary>Default false.</summary>
    public bool? Enabled { get; init; }

    /// <summary>The collector's base URL (default http://localhost:4318; /v1/traces is added for HttpProtobuf).</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>HttpProtobuf (default) or Grpc.</summary>
    public OtlpProtocol? OtlpProtocol { get; init; }

    /// <summary>The service.name resource attribute (default: the environment's name).</summary>
    public string? ServiceName { get; init; }

    /// <summary>Share of new traces recorded, 0-1 (default 1); a sampled parent is always followed.</summary>
    public double? SamplingRatio { get; init; }
}

[JsonConverter(typeof(StrictEnumConverter<OtlpProtocol>))]
public enum OtlpProtocol
{
    HttpProtobuf,
    Grpc,
}
