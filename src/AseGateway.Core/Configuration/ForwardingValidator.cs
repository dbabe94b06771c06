namespace AseGateway.Configuration;

/// <summary>Validation of <c>frontEnd.forwarding</c>: the fast path's pool limits.</summary>
internal static class ForwardingValidator
{
    public static void Validate(ForwardingConfig? forwarding, List<ConfigError> errors)
    {
        if (forwarding is null)
        {
            return;
        }

        const string path = "frontEnd.forwarding";
        ConfigValidator.CheckRange(forwarding.MaxConnectionsPerInstance, 1, 100_000, $"{path}.maxConnectionsPerInstance", errors);
        ConfigValidator.CheckRange(forwarding.MaxIdleConnectionsPerInstance, 0, 100_000, $"{path}.maxIdleConnectionsPerInstance", errors);
        ConfigValidator.CheckRange(forwarding.IdleTimeoutSeconds, 1, 3600, $"{path}.idleTimeoutSeconds", errors);
        if (forwarding.MaxIdleConnectionsPerInstance > (forwarding.MaxConnectionsPerInstance ?? ConfigDefaults.FastPathMaxConnectionsPerInstance))
        {
            errors.Add(new ConfigError($"{path}.maxIdleConnectionsPerInstance", "must not exceed maxConnectionsPerInstance"));
        }
    }
}
