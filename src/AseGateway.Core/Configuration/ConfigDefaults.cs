using Yarp.ReverseProxy.LoadBalancing;

namespace AseGateway.Configuration;

/// <summary>The values a file gets where it is silent: Azure's documented numbers wherever Azure has one.</summary>
public static class ConfigDefaults
{
    public const int MaxWorkerPools = 3;
    public const int MaxTotalWorkers = 50;
    public const int MaxTotalWorkersLimit = 200;

    public const int HealthCheckIntervalSeconds = 60;
    public const int HealthCheckTimeoutSeconds = 10;
    public const int MaxPingFailures = 10;
    public const int MinPingFailures = 2;
    public const int MaxUnhealthyPercent = 50;

    public const bool ClientAffinityEnabled = true;
    public static readonly string LoadBalancingPolicy = LoadBalancingPolicies.PowerOfTwoChoices;

    public const string ListenerAddress = "*";
    public const string ManagementAddress = "127.0.0.1";
    public const int ManagementPort = 9090;
    public const int ManagementMaxRequestBodySizeInKb = 1024;

    public const bool RetryEnabled = true;
    public const int RetryMaxAttempts = 2;
    public const int RetryMaxAttemptsLimit = 5;

    public const bool FastPath = true;
    public const int FastPathMaxConnectionsPerInstance = 512;
    public const int FastPathMaxIdleConnectionsPerInstance = 128;
    public const int FastPathIdleTimeoutSeconds = 60;

    public const int DrainTimeoutSeconds = 30;
    public const int StopTimeoutSeconds = 10;
    public const int ReloadPollIntervalSeconds = 5;
    public const int ReloadDebounceMilliseconds = 250;

    /// <summary>The policies YARP ships, by the names users write in <c>apps[].loadBalancing</c>.</summary>
    public static readonly IReadOnlyList<string> LoadBalancingPolicyNames =
    [
        LoadBalancingPolicies.PowerOfTwoChoices,
        LoadBalancingPolicies.RoundRobin,
        LoadBalancingPolicies.LeastRequests,
        LoadBalancingPolicies.Random,
        LoadBalancingPolicies.FirstAlphabetical,
    ];

    /// <summary>Environment variables the gateway sets for a process instance; a run config may not override them.</summary>
    public static readonly IReadOnlyList<string> ReservedEnvironmentVariables =
    [
        "PORT", "ASPNETCORE_URLS", "WEBSITE_SITE_NAME", "WEBSITE_INSTANCE_ID", "WEBSITE_HOSTNAME", "ASEGATEWAY_INSTANCE_NAME",
    ];
}
