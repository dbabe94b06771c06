using AseGateway.Networking;

namespace AseGateway.Configuration;

/// <summary>Validation of the edge-security parts: NSG rules, access restrictions, limits, per-app TLS switches.</summary>
internal static class EdgeValidator
{
    public const int MinNsgPriority = 100;
    public const int MaxNsgPriority = 4096;
    public const int MaxRangesPerAccessRule = 8;
    public const int MaxAccessRules = 512;

    public static void Validate(GatewayConfig config, List<ConfigError> errors)
    {
        var tags = ValidateNsg(config.NetworkSecurityGroup, errors);
        ValidateLimits(config.FrontEnd?.Limits, errors);
        var apps = config.Apps ?? [];
        for (var i = 0; i < apps.Length; i++)
        {
            if (apps[i] is { } app)
            {
                ValidateApp(app, $"apps[{i}]", tags, errors);
            }
        }
    }

    private static HashSet<string> ValidateNsg(NetworkSecurityGroupConfig? nsg, List<ConfigError> errors)
    {
        var tags = new HashSet<string>(ServiceTags.BuiltInNames, StringComparer.OrdinalIgnoreCase);
        if (nsg is null)
        {
            return tags;
        }

        foreach (var (tag, prefixes) in nsg.ServiceTags ?? [])
        {
            if (string.Equals(tag, ServiceTags.Internet, StringComparison.OrdinalIgnoreCase) || tag is "*" or "Any")
            {
                errors.Add(new($"networkSecurityGroup.serviceTags.{tag}", $"'{tag}' is computed by the gateway and cannot be redefined"));
                continue;
            }

            tags.Add(tag);
            for (var p = 0; p < (prefixes?.Length ?? 0); p++)
            {
                if (!NetworkParsing.TryParsePrefix(prefixes![p], out _))
                {
                    errors.Add(new($"networkSecurityGroup.serviceTags.{tag}[{p}]", $"'{prefixes[p]}' is not an IP address or CIDR prefix"));
                }
            }
        }

        var rules = nsg.SecurityRules ?? [];
        var priorities = new Dictionary<int, int>();
        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < rules.Length; i++)
        {
            var path = $"networkSecurityGroup.securityRules[{i}]";
            var rule = rules[i];
            if (rule is null)
            {
                errors.Add(new(path, "a rule cannot be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(rule.Name))
            {
                errors.Add(new($"{path}.name", "a rule needs a name"));
            }
            else if (!names.TryAdd(rule.Name, i))
            {
                errors.Add(new($"{path}.name", $"'{rule.Name}' is already the name of networkSecurityGroup.securityRules[{names[rule.Name]}]"));
            }

            if (rule.Priority is not { } priority)
            {
                errors.Add(new($"{path}.priority", "a rule needs a priority"));
            }
            else if (priority is < MinNsgPriority or > MaxNsgPriority)
            {
                errors.Add(new($"{path}.priority", $"must be between {MinNsgPriority} and {MaxNsgPriority}, not {priority}"));
            }
            else if (!priorities.TryAdd(priority, i))
            {
                errors.Add(new($"{path}.priority", $"{priority} is already the priority of networkSecurityGroup.securityRules[{priorities[priority]}]: priorities are unique"));
            }

            if (rule.Access is null)
            {
                errors.Add(new($"{path}.access", "a rule needs access: Allow or Deny"));
            }

            if (rule.Protocol is { } protocol && !NsgProtocols.IsKnown(protocol))
            {
                errors.Add(new($"{path}.protocol", $"'{protocol}' is not a protocol: use Tcp, Udp, Icmp, Esp, Ah or *"));
            }

            if (rule.Direction is { } direction && !string.Equals(direction, "Inbound", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(new($"{path}.direction", $"only Inbound rules apply to a front end, not '{direction}'"));
            }

            ValidateSources(rule, path, tags, errors);
            ValidatePorts(rule, path, errors);
        }

        return tags;
    }

    private static void ValidateSources(SecurityRuleConfig rule, string path, HashSet<string> tags, List<ConfigError> errors)
    {
        if ((rule.SourceAddressPrefix is null) == (rule.SourceAddressPrefixes is null))
        {
            errors.Add(new(path, "give either sourceAddressPrefix or sourceAddressPrefixes"));
            return;
        }

        if (rule.SourceAddressPrefix is { } single)
        {
            CheckSource(single, $"{path}.sourceAddressPrefix", tags, errors);
        }

        for (var i = 0; i < (rule.SourceAddressPrefixes?.Length ?? 0); i++)
        {
            CheckSource(rule.SourceAddressPrefixes![i], $"{path}.sourceAddressPrefixes[{i}]", tags, errors);
        }
    }

    private static void CheckSource(string? source, string path, HashSet<string> tags, List<ConfigError> errors)
    {
        if (source is "*" or "Any" || (source is not null && tags.Contains(source)) || NetworkParsing.TryParsePrefix(source, out _))
        {
            return;
        }

        // An empty source is no tag name (it once indexed past its end here; found by the config fuzzer).
        errors.Add(new(path, !string.IsNullOrEmpty(source) && char.IsLetter(source[0]) && !source.Contains(':', StringComparison.Ordinal)
            ? $"unknown service tag '{source}': define it in networkSecurityGroup.serviceTags or use {string.Join(", ", ServiceTags.BuiltInNames)}"
            : $"'{source}' is not an IP address, CIDR prefix, service tag or *"));
    }

    private static void ValidatePorts(SecurityRuleConfig rule, string path, List<ConfigError> errors)
    {
        if ((rule.DestinationPortRange is null) == (rule.DestinationPortRanges is null))
        {
            errors.Add(new(path, "give either destinationPortRange or destinationPortRanges"));
            return;
        }

        if (rule.DestinationPortRange is { } single && !PortRange.TryParse(single, out _))
        {
            errors.Add(new($"{path}.destinationPortRange", $"'{single}' is not a port, a range such as 8000-8999, or *"));
        }

        for (var i = 0; i < (rule.DestinationPortRanges?.Length ?? 0); i++)
        {
            if (!PortRange.TryParse(rule.DestinationPortRanges![i], out _))
            {
                errors.Add(new($"{path}.destinationPortRanges[{i}]", $"'{rule.DestinationPortRanges[i]}' is not a port, a range such as 8000-8999, or *"));
            }
        }
    }

    private static void ValidateApp(AppConfig app, string path, HashSet<string> tags, List<ConfigError> errors)
    {
        if (app.Hsts?.MaxAgeSeconds is { } maxAge && maxAge < 0)
        {
            errors.Add(new($"{path}.hsts.maxAgeSeconds", $"cannot be negative ({maxAge})"));
        }

        var exclusions = app.ClientCertExclusionPaths ?? [];
        for (var i = 0; i < exclusions.Length; i++)
        {
            if (exclusions[i] is not { Length: > 0 } exclusion || exclusion[0] != '/')
            {
                errors.Add(new($"{path}.clientCertExclusionPaths[{i}]", $"'{exclusions[i]}' must be a path starting with '/'"));
            }
        }

        var rules = app.AccessRestrictions?.Rules ?? [];
        if (rules.Length > MaxAccessRules)
        {
            errors.Add(new($"{path}.accessRestrictions.rules", $"an app has at most {MaxAccessRules} access rules, not {rules.Length}"));
        }

        var priorities = new Dictionary<int, int>();
        for (var i = 0; i < rules.Length; i++)
        {
            var rulePath = $"{path}.accessRestrictions.rules[{i}]";
            var rule = rules[i];
            if (rule is null)
            {
                errors.Add(new(rulePath, "a rule cannot be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(rule.Name))
            {
                errors.Add(new($"{rulePath}.name", "a rule needs a name"));
            }

            if (rule.Priority is not { } priority || priority < 1 || priority > 2147483647)
            {
                errors.Add(new($"{rulePath}.priority", "a rule needs a priority of at least 1"));
            }
            else if (!priorities.TryAdd(priority, i))
            {
                errors.Add(new($"{rulePath}.priority", $"{priority} is already the priority of {path}.accessRestrictions.rules[{priorities[priority]}]"));
            }

            if (rule.Action is null)
            {
                errors.Add(new($"{rulePath}.action", "a rule needs an action: Allow or Deny"));
            }

            ValidateAccessSource(rule, rulePath, tags, errors);
            ValidateHeaders(rule, rulePath, errors);
        }
    }

    private static void ValidateAccessSource(AccessRuleConfig rule, string path, HashSet<string> tags, List<ConfigError> errors)
    {
        if (rule.IpAddress is not null && rule.ServiceTag is not null)
        {
            errors.Add(new(path, "give either ipAddress or serviceTag, not both"));
        }

        if (rule.ServiceTag is { } tag && !tags.Contains(tag))
        {
            errors.Add(new($"{path}.serviceTag", $"unknown service tag '{tag}': define it in networkSecurityGroup.serviceTags or use {string.Join(", ", ServiceTags.BuiltInNames)}"));
        }

        if (rule.IpAddress is { } addresses)
        {
            var ranges = addresses.Split(',', StringSplitOptions.TrimEntries);
            if (ranges.Length > MaxRangesPerAccessRule)
            {
                errors.Add(new($"{path}.ipAddress", $"a rule holds at most {MaxRangesPerAccessRule} ranges, not {ranges.Length}"));
            }

            foreach (var range in ranges)
            {
                if (range != "Any" && !NetworkParsing.TryParsePrefix(range, out _))
                {
                    errors.Add(new($"{path}.ipAddress", $"'{range}' is not an IP address or CIDR prefix"));
                }
            }
        }
    }

    private static void ValidateHeaders(AccessRuleConfig rule, string path, List<ConfigError> errors)
    {
        foreach (var (name, values) in rule.Headers ?? [])
        {
            var headerPath = $"{path}.headers.{name}";
            if (!AccessHeaderNames.IsKnown(name))
            {
                errors.Add(new(headerPath, $"'{name}' cannot be filtered: use {string.Join(", ", AccessHeaderNames.All)}"));
                continue;
            }

            if (values is null || values.Length is 0 or > MaxRangesPerAccessRule)
            {
                errors.Add(new(headerPath, $"give 1 to {MaxRangesPerAccessRule} values"));
                continue;
            }

            if (string.Equals(name, AccessHeaderNames.ForwardedFor, StringComparison.OrdinalIgnoreCase))
            {
                foreach (var value in values)
                {
                    if (!NetworkParsing.TryParsePrefix(value, out _))
                    {
                        errors.Add(new(headerPath, $"'{value}' is not an IP address or CIDR prefix"));
                    }
                }
            }
        }
    }

    private static void ValidateLimits(LimitsConfig? limits, List<ConfigError> errors)
    {
        if (limits is null)
        {
            return;
        }

        ConfigValidator.CheckRange(limits.MaxConcurrentConnections, 1, 1_000_000, "frontEnd.limits.maxConcurrentConnections", errors);
        ConfigValidator.CheckRange(limits.MaxConnectionsPerClient, 1, 1_000_000, "frontEnd.limits.maxConnectionsPerClient", errors);
        ConfigValidator.CheckRange(limits.RequestHeadersTimeoutSeconds, 1, 600, "frontEnd.limits.requestHeadersTimeoutSeconds", errors);
        ConfigValidator.CheckRange(limits.KeepAliveTimeoutSeconds, 1, 3600, "frontEnd.limits.keepAliveTimeoutSeconds", errors);
        ConfigValidator.CheckRange(limits.MaxRequestHeadersTotalSizeInKb, 1, 1024, "frontEnd.limits.maxRequestHeadersTotalSizeInKb", errors);
        ConfigValidator.CheckRange(limits.MaxRequestBodySizeInMb, 1, 100_000, "frontEnd.limits.maxRequestBodySizeInMb", errors);
        ConfigValidator.CheckRange(limits.MinRequestBodyBytesPerSecond, 0, 1_000_000_000, "frontEnd.limits.minRequestBodyBytesPerSecond", errors);
        ConfigValidator.CheckRange(limits.MinResponseBytesPerSecond, 0, 1_000_000_000, "frontEnd.limits.minResponseBytesPerSecond", errors);
        ConfigValidator.CheckRange(limits.Http2MaxStreamsPerConnection, 1, 10_000, "frontEnd.limits.http2MaxStreamsPerConnection", errors);
        ConfigValidator.CheckRange(limits.SendTimeoutSeconds, 0, 3600, "frontEnd.limits.sendTimeoutSeconds", errors);
        ConfigValidator.CheckRange(limits.ClientSendBufferSizeInKb, 0, 65_536, "frontEnd.limits.clientSendBufferSizeInKb", errors);
        ConfigValidator.CheckRange(limits.MaxRanges, 0, 10_000, "frontEnd.limits.maxRanges", errors);
    }
}
