namespace AseGateway.Configuration;

/// <summary>How requests reach the workers: the HTTP/1.1 fast path and its connection pool.</summary>
public sealed record ForwardingConfig
{
    /// <summary>
    /// Forward plain HTTP/1.1 keep-alive exchanges on the gateway's own pooled connections instead of YARP's
    /// HttpClient; whatever it does not fully handle still goes through YARP (default true).
    /// </summary>
    public bool? FastPath { get; init; }

    /// <summary>Open connections per worker instance; at the cap further requests go through YARP (default 512).</summary>
    public int? MaxConnectionsPerInstance { get; init; }

    /// <summary>Idle connections kept per worker instance (default 128).</summary>
    public int? MaxIdleConnectionsPerInstance { get; init; }

    /// <summary>An idle connection is closed after this long (default 60, below Kestrel's 130 s keep-alive timeout).</summary>
    public int? IdleTimeoutSeconds { get; init; }
}
