namespace AseGateway.Logging;

/// <summary>
/// Every log event id the gateway uses, in one place so that ids stay stable and unique (operators alert on them).
/// Ranges: 1xx configuration, 2xx instances, 3xx health, 4xx data plane, 5xx hosting.
/// </summary>
internal static class EventIds
{
    public const int ConfigLoaded = 100;
    public const int ConfigInvalid = 101;
    public const int ConfigError = 102;
    public const int ConfigWatchUnavailable = 104;
    public const int ConfigReloadFailed = 105;

    public const int InstanceStarting = 200;
    public const int InstanceExited = 201;
    public const int InstanceRestartScheduled = 202;
    public const int InstanceStopping = 203;
    public const int InstanceStopped = 204;
    public const int InstanceOutput = 205;
    public const int InstanceStartFailed = 206;
    public const int InstanceKilled = 207;
    public const int InstanceDraining = 208;
    public const int InstanceAdded = 210;
    public const int InstanceRemoved = 211;

    public const int InstanceReady = 300;
    public const int InstanceUnhealthy = 301;
    public const int InstanceRecovered = 302;
    public const int InstanceProbeFailed = 303;
    public const int InstancePassiveFailure = 304;
    public const int InstanceExclusionCapped = 305;

    public const int UnknownHost = 400;
    public const int NsgDenied = 402;
    public const int ClientConnectionLimit = 403;
    public const int AccessDenied = 404;
    public const int ClientCertificateMissing = 405;
    public const int WafBlocked = 406;
    public const int WafHookFailed = 407;
    public const int WafAuditFailed = 408;
    public const int MalformedHeader = 409;
    public const int TlsCipherSuiteRefused = 410;

    // Reliability (issue 8): 750-799.
    public const int SendTimedOut = 750;

    public const int GatewayStarted = 500;
    public const int ListenerBound = 501;
    public const int GatewayStopping = 502;
    public const int ManagementListening = 503;
    public const int StartupNotReady = 504;
    public const int ManagementUnauthorized = 505;
    public const int ScaleRequested = 506;

    // 700-749: reliability (retries).
    public const int RequestRetried = 700;
    public const int RetryExhausted = 701;
    public const int RetryNoOtherInstance = 702;
    // 650-699: access log and tracing.
    public const int AccessLogDropped = 650;
    public const int AccessLogWriteFailed = 651;
    public const int AccessLogRecovered = 652;
    public const int TracingEnabled = 653;
    public const int AccessLogWriterFailed = 654;

    // 800-809: WAF response phases (CRS phases 3 and 4).
    public const int WafResponseBlocked = 800;

    // 850-859: the HTTP/1.1 forwarding fast path.
    public const int FastPathForwardingFailed = 850;
    public const int FastPathInvalidResponse = 851;
    public const int FastPathStaleConnection = 852;

    // 860-869: the event-loop transport.
    public const int EventLoopFailed = 860;
    public const int EventLoopsServing = 861;

    // 870-879: the gateway's own HTTP/1.1 front.
    public const int Http1FrontApplicationError = 870;
    public const int Http1FrontHandedOff = 871;
    public const int Http1FrontTimedOut = 872;
}
