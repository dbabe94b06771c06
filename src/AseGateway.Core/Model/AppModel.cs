namespace AseGateway.Model;

/// <summary>An app as the data plane needs it: its host names, its cluster and its behaviour switches.</summary>
internal sealed class AppModel
{
    public required string Name { get; init; }

    public required string PlanName { get; init; }

    public required string PoolName { get; init; }

    /// <summary>The <c>{app}.{dnsSuffix}</c> name when the environment has a suffix, else the first host name.</summary>
    public required string DefaultHostName { get; init; }

    /// <summary>Every host the app answers on, lower-case, explicit names first.</summary>
    public required IReadOnlyList<string> HostNames { get; init; }

    public required bool ClientAffinityEnabled { get; init; }

    public required string LoadBalancingPolicy { get; init; }

    public required HealthCheckModel HealthCheck { get; init; }

    public required Access.AccessRestrictionModel AccessRestrictions { get; init; }

    public required bool HttpsOnly { get; init; }

    /// <summary>The Strict-Transport-Security value for HTTPS responses, or null.</summary>
    public required string? Hsts { get; init; }

    public required Configuration.ClientCertMode ClientCertMode { get; init; }

    public required IReadOnlyList<string> ClientCertExclusionPaths { get; init; }

    /// <summary>The app's WAF policy (its own or the environment default), or null.</summary>
    public required Waf.WafPolicyModel? Waf { get; init; }

    /// <summary>
    /// How many times an idempotent, bodiless request may be sent to an instance in all (1: never retried).
    /// </summary>
    public required int MaxAttempts { get; init; }

    /// <summary>The YARP route and cluster id of this app (its name).</summary>
    public string ClusterId => Name;
}
