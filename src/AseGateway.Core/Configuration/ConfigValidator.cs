using System.Net;
using System.Text.RegularExpressions;

namespace AseGateway.Configuration;

/// <summary>
/// Checks a parsed file against the ASE model and collects every error with its JSON path; it never stops at the
/// first one, so an operator fixes a broken file in one pass.
/// </summary>
public static partial class ConfigValidator
{
    public static IReadOnlyList<ConfigError> Validate(GatewayConfig config, string baseDirectory)
    {
        var errors = new List<ConfigError>();
        ValidateEnvironment(config, errors);
        ValidateFrontEnd(config.FrontEnd, baseDirectory, errors);
        ValidateHealthCheck(config.HealthCheck, "healthCheck", errors);
        ValidateRetry(config.Retry, "retry", errors);
        var pools = ValidatePools(config, errors);
        var plans = ValidatePlans(config.Plans, pools, errors);
        ValidateApps(config, pools, plans, baseDirectory, errors);
        EdgeValidator.Validate(config, errors);
        WafValidator.Validate(config, errors);
        ValidateLifecycle(config, errors);
        ValidateManagement(config, errors);
        ObservabilityValidator.Validate(config.Observability, errors);
        ForwardingValidator.Validate(config.FrontEnd?.Forwarding, errors);
        return errors;
    }

    private static void ValidateEnvironment(GatewayConfig config, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(config.Name))
        {
            errors.Add(new("name", "the environment needs a name"));
        }
        else if (!ResourceName().IsMatch(config.Name))
        {
            errors.Add(new("name", $"'{config.Name}' is not a valid name: use 1-60 letters, digits, hyphens or underscores"));
        }

        if (config.DnsSuffix is { } suffix && !IsHostName(suffix, allowWildcard: false))
        {
            errors.Add(new("dnsSuffix", $"'{suffix}' is not a valid DNS name"));
        }

        CheckRange(config.MaxTotalWorkers, 1, ConfigDefaults.MaxTotalWorkersLimit, "maxTotalWorkers", errors);

        if (config.WorkerPools is null)
        {
            errors.Add(new("workerPools", "at least one worker pool is required"));
        }

        if (config.Plans is null)
        {
            errors.Add(new("plans", "the list of plans is required (it may be empty)"));
        }

        if (config.Apps is null)
        {
            errors.Add(new("apps", "the list of apps is required (it may be empty)"));
        }
    }

    private static void ValidateFrontEnd(FrontEndConfig? frontEnd, string baseDirectory, List<ConfigError> errors)
    {
        if (frontEnd?.Listeners is not { Length: > 0 } listeners)
        {
            errors.Add(new("frontEnd.listeners", "at least one listener is required"));
            return;
        }

        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var endpoints = new List<(string Address, int Port, int Index)>();
        var needsTls = false;
        for (var i = 0; i < listeners.Length; i++)
        {
            var path = $"frontEnd.listeners[{i}]";
            var listener = listeners[i];
            if (listener is null)
            {
                errors.Add(new(path, "a listener cannot be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(listener.Name))
            {
                errors.Add(new($"{path}.name", "a listener needs a name"));
            }
            else if (!names.TryAdd(listener.Name, i))
            {
                errors.Add(new($"{path}.name", $"'{listener.Name}' is already the name of frontEnd.listeners[{names[listener.Name]}]"));
            }

            var address = listener.Address ?? ConfigDefaults.ListenerAddress;
            if (!IsListenAddress(address))
            {
                errors.Add(new($"{path}.address", $"'{address}' is not an IP address, '*' or 'localhost'"));
            }

            if (listener.Port is not { } port)
            {
                errors.Add(new($"{path}.port", "a listener needs a port"));
            }
            else if (port < 0 || port > 65535)
            {
                errors.Add(new($"{path}.port", $"{port} is not a TCP port (0-65535)"));
            }
            else if (port != 0 && endpoints.FindIndex(e => e.Port == port && Overlaps(e.Address, address)) is var clash and >= 0)
            {
                var (other, _, index) = endpoints[clash];
                errors.Add(new($"{path}.port", string.Equals(other, address, StringComparison.OrdinalIgnoreCase)
                    ? $"{address}:{port} is already used by frontEnd.listeners[{index}]"
                    : $"{address}:{port} overlaps {other}:{port} of frontEnd.listeners[{index}]: both cannot be bound"));
            }
            else if (port != 0)
            {
                endpoints.Add((address, port, i));
            }

            if (listener.Protocol is null)
            {
                errors.Add(new($"{path}.protocol", "a listener needs a protocol: Http, Https or Http2"));
            }

            needsTls |= listener.Protocol == ListenerProtocol.Https;
        }

        if (needsTls && frontEnd.Tls?.Certificates is not { Length: > 0 })
        {
            errors.Add(new("frontEnd.tls.certificates", "an Https listener needs at least one certificate"));
        }

        ValidateCertificates(frontEnd.Tls?.Certificates, baseDirectory, errors);

        var forwarders = frontEnd.TrustedForwarders ?? [];
        for (var i = 0; i < forwarders.Length; i++)
        {
            if (!AseGateway.NetworkParsing.TryParsePrefix(forwarders[i], out _))
            {
                errors.Add(new($"frontEnd.trustedForwarders[{i}]", $"'{forwarders[i]}' is not an IP address or CIDR prefix"));
            }
        }
    }

    private static void ValidateCertificates(CertificateConfig[]? certificates, string baseDirectory, List<ConfigError> errors)
    {
        for (var i = 0; i < (certificates?.Length ?? 0); i++)
        {
            var path = $"frontEnd.tls.certificates[{i}]";
            var certificate = certificates![i];
            if (string.IsNullOrWhiteSpace(certificate?.Path))
            {
                errors.Add(new($"{path}.path", "a certificate needs a file path"));
                continue;
            }

            if (!File.Exists(Path.Combine(baseDirectory, certificate.Path)))
            {
                errors.Add(new($"{path}.path", $"the file '{certificate.Path}' does not exist"));
            }

            if (certificate.KeyPath is { } keyPath && !File.Exists(Path.Combine(baseDirectory, keyPath)))
            {
                errors.Add(new($"{path}.keyPath", $"the file '{keyPath}' does not exist"));
            }

            if (certificate.PasswordEnvironmentVariable is { } variable && Environment.GetEnvironmentVariable(variable) is null)
            {
                errors.Add(new($"{path}.passwordEnvironmentVariable", $"the environment variable '{variable}' is not set"));
            }
        }
    }

    private static void ValidateHealthCheck(HealthCheckConfig? health, string path, List<ConfigError> errors)
    {
        if (health is null)
        {
            return;
        }

        CheckRange(health.IntervalSeconds, 1, 3600, $"{path}.intervalSeconds", errors);
        CheckRange(health.TimeoutSeconds, 1, 300, $"{path}.timeoutSeconds", errors);

        if (health.MaxPingFailures is { } failures && (failures < ConfigDefaults.MinPingFailures || failures > ConfigDefaults.MaxPingFailures))
        {
            errors.Add(new($"{path}.maxPingFailures", $"must be between {ConfigDefaults.MinPingFailures} and {ConfigDefaults.MaxPingFailures} (as App Service allows), not {failures}"));
        }

        CheckRange(health.MaxUnhealthyPercent, 0, 100, $"{path}.maxUnhealthyPercent", errors);
    }

    private static void ValidateRetry(RetryConfig? retry, string path, List<ConfigError> errors) =>
        CheckRange(retry?.MaxAttempts, 1, ConfigDefaults.RetryMaxAttemptsLimit, $"{path}.maxAttempts", errors);

    private static Dictionary<string, PoolFacts> ValidatePools(GatewayConfig config, List<ConfigError> errors)
    {
        var pools = new Dictionary<string, PoolFacts>(StringComparer.OrdinalIgnoreCase);
        var list = config.WorkerPools ?? [];
        if (config.WorkerPools is { Length: 0 })
        {
            errors.Add(new("workerPools", "at least one worker pool is required"));
        }

        if (list.Length > ConfigDefaults.MaxWorkerPools)
        {
            errors.Add(new("workerPools", $"an environment has at most {ConfigDefaults.MaxWorkerPools} worker pools, not {list.Length}"));
        }

        var totalWorkers = 0;
        var addresses = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < list.Length; i++)
        {
            var path = $"workerPools[{i}]";
            var pool = list[i];
            if (pool is null)
            {
                errors.Add(new(path, "a worker pool cannot be null"));
                continue;
            }

            var workers = pool.WorkerCount ?? pool.Workers?.Length;
            if (workers is null)
            {
                errors.Add(new($"{path}.workerCount", "a worker pool without static workers needs a workerCount"));
            }
            else if (workers < 0)
            {
                errors.Add(new($"{path}.workerCount", $"cannot be negative ({workers})"));
            }
            else
            {
                totalWorkers += workers.Value;
            }

            if (pool.Workers is { } statics)
            {
                if (workers > statics.Length)
                {
                    errors.Add(new($"{path}.workerCount", $"{workers} workers asked for but only {statics.Length} are listed in workers[]: a static pool can only enable listed workers"));
                }

                for (var w = 0; w < statics.Length; w++)
                {
                    var address = statics[w]?.Address;
                    if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                        || uri.Query.Length > 0 || uri.Fragment.Length > 0)
                    {
                        errors.Add(new($"{path}.workers[{w}].address", $"'{address}' is not an absolute http:// or https:// address without query"));
                    }
                    else if (!addresses.TryAdd(uri.AbsoluteUri, $"{path}.workers[{w}]"))
                    {
                        errors.Add(new($"{path}.workers[{w}].address", $"'{address}' is already listed at {addresses[uri.AbsoluteUri]}"));
                    }
                }
            }

            if (!CheckName(pool.Name, $"{path}.name", "worker pool", errors))
            {
                continue;
            }

            if (!pools.TryAdd(pool.Name!, new PoolFacts(i, Math.Max(0, workers ?? 0), pool.Workers is not null)))
            {
                errors.Add(new($"{path}.name", $"'{pool.Name}' is already the name of workerPools[{pools[pool.Name!].Index}]"));
            }
        }

        var max = config.MaxTotalWorkers ?? ConfigDefaults.MaxTotalWorkers;
        if (totalWorkers > max)
        {
            errors.Add(new("workerPools", $"the pools have {totalWorkers} workers in all, more than the environment's limit of {max} (maxTotalWorkers)"));
        }

        return pools;
    }

    private static Dictionary<string, PlanFacts> ValidatePlans(PlanConfig[]? list, Dictionary<string, PoolFacts> pools, List<ConfigError> errors)
    {
        var plans = new Dictionary<string, PlanFacts>(StringComparer.OrdinalIgnoreCase);
        var usedPerPool = new Dictionary<string, (int Used, List<string> Plans)>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < (list?.Length ?? 0); i++)
        {
            var path = $"plans[{i}]";
            var plan = list![i];
            if (plan is null)
            {
                errors.Add(new(path, "a plan cannot be null"));
                continue;
            }

            var named = CheckName(plan.Name, $"{path}.name", "plan", errors);
            if (named && plans.TryGetValue(plan.Name!, out var existing))
            {
                errors.Add(new($"{path}.name", $"'{plan.Name}' is already the name of plans[{existing.Index}]"));
                named = false;
            }

            if (plan.InstanceCount is not { } count)
            {
                errors.Add(new($"{path}.instanceCount", "a plan needs an instanceCount"));
                count = 0;
            }
            else if (count < 1)
            {
                errors.Add(new($"{path}.instanceCount", $"must be at least 1, not {count}"));
            }

            PoolFacts? pool = null;
            if (string.IsNullOrWhiteSpace(plan.WorkerPool))
            {
                errors.Add(new($"{path}.workerPool", "a plan must name the worker pool it runs on"));
            }
            else if (!pools.TryGetValue(plan.WorkerPool, out pool))
            {
                errors.Add(new($"{path}.workerPool", $"there is no worker pool named '{plan.WorkerPool}'"));
            }
            else if (count > 0)
            {
                ref var used = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(usedPerPool, plan.WorkerPool, out _);
                used.Plans ??= [];
                used.Used += count;
                used.Plans.Add(plan.Name ?? $"plans[{i}]");
                if (used.Used > pool.WorkerCount)
                {
                    errors.Add(new($"{path}.instanceCount", $"worker pool '{plan.WorkerPool}' has {pool.WorkerCount} workers but its plans ({string.Join(", ", used.Plans)}) need {used.Used}"));
                }
            }

            if (named)
            {
                plans.Add(plan.Name!, new PlanFacts(i, pool));
            }
        }

        return plans;
    }

    private static void ValidateApps(GatewayConfig config, Dictionary<string, PoolFacts> pools, Dictionary<string, PlanFacts> plans, string baseDirectory, List<ConfigError> errors)
    {
        _ = pools;
        var apps = config.Apps ?? [];
        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var hosts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        // Default host names ({app}.{dnsSuffix}) are claimed first so that an explicit host name colliding with
        // another app's default name is reported on the explicit one.
        if (config.DnsSuffix is { } suffix)
        {
            foreach (var app in apps)
            {
                if (app?.Name is { } name && AppName().IsMatch(name))
                {
                    hosts.TryAdd($"{name}.{suffix}", name);
                }
            }
        }

        for (var i = 0; i < apps.Length; i++)
        {
            var path = $"apps[{i}]";
            var app = apps[i];
            if (app is null)
            {
                errors.Add(new(path, "an app cannot be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(app.Name))
            {
                errors.Add(new($"{path}.name", "an app needs a name"));
            }
            else if (!AppName().IsMatch(app.Name))
            {
                errors.Add(new($"{path}.name", $"'{app.Name}' is not a valid app name: use 2-60 letters, digits or hyphens, not starting or ending with a hyphen"));
            }
            else if (!names.TryAdd(app.Name, i))
            {
                errors.Add(new($"{path}.name", $"'{app.Name}' is already the name of apps[{names[app.Name]}]"));
            }

            PlanFacts? plan = null;
            if (string.IsNullOrWhiteSpace(app.Plan))
            {
                errors.Add(new($"{path}.plan", "an app must name the plan it runs in"));
            }
            else if (!plans.TryGetValue(app.Plan, out plan))
            {
                errors.Add(new($"{path}.plan", $"there is no plan named '{app.Plan}'"));
            }

            var hostNames = app.HostNames ?? [];
            for (var h = 0; h < hostNames.Length; h++)
            {
                var host = hostNames[h];
                if (host is null || !IsHostName(host, allowWildcard: true))
                {
                    errors.Add(new($"{path}.hostNames[{h}]", $"'{host}' is not a valid host name"));
                }
                else if (!hosts.TryAdd(host, app.Name ?? path) && !string.Equals(hosts[host], app.Name, StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add(new($"{path}.hostNames[{h}]", $"'{host}' is already used by app '{hosts[host]}'"));
                }
                else if (hostNames.AsSpan(0, h).Contains(host, StringComparer.OrdinalIgnoreCase))
                {
                    errors.Add(new($"{path}.hostNames[{h}]", $"'{host}' is listed twice"));
                }
            }

            if (hostNames.Length == 0 && config.DnsSuffix is null)
            {
                errors.Add(new($"{path}.hostNames", "an app needs at least one host name when the environment has no dnsSuffix"));
            }

            if (app.HealthCheckPath is { } healthPath && (!healthPath.StartsWith('/') || healthPath.Contains('#') || healthPath.Any(char.IsWhiteSpace)))
            {
                errors.Add(new($"{path}.healthCheckPath", $"'{healthPath}' must be a path starting with '/'"));
            }

            ValidateHealthCheck(app.HealthCheck, $"{path}.healthCheck", errors);
            ValidateRetry(app.Retry, $"{path}.retry", errors);

            if (app.LoadBalancing is { } policy && !ConfigDefaults.LoadBalancingPolicyNames.Contains(policy))
            {
                errors.Add(new($"{path}.loadBalancing", $"unknown load-balancing policy '{policy}': use one of {string.Join(", ", ConfigDefaults.LoadBalancingPolicyNames)}"));
            }

            ValidateRun(app, plan?.Pool, path, baseDirectory, errors);
        }
    }

    private static void ValidateRun(AppConfig app, PoolFacts? pool, string path, string baseDirectory, List<ConfigError> errors)
    {
        if (pool is null)
        {
            return;
        }

        if (pool.IsStatic)
        {
            if (app.Run is not null)
            {
                errors.Add(new($"{path}.run", $"the app's plan is on a static worker pool, whose workers already run the app: remove 'run' or use a pool without 'workers'"));
            }

            return;
        }

        if (app.Run is null)
        {
            errors.Add(new($"{path}.run", "the app's plan is on a process worker pool: say how to start the app with run.command"));
            return;
        }

        if (string.IsNullOrWhiteSpace(app.Run.Command))
        {
            errors.Add(new($"{path}.run.command", "a command is required"));
        }
        else if (Instances.CommandLocator.Resolve(app.Run.Command, baseDirectory) is null)
        {
            errors.Add(new($"{path}.run.command", $"'{app.Run.Command}' was not found (neither a file nor a program on PATH)"));
        }

        if (app.Run.WorkingDirectory is { } workingDirectory && !Directory.Exists(Path.Combine(baseDirectory, workingDirectory)))
        {
            errors.Add(new($"{path}.run.workingDirectory", $"the folder '{workingDirectory}' does not exist"));
        }

        // JSON null parses into these string slots; caught here rather than when the process is started.
        var args = app.Run.Args ?? [];
        for (var a = 0; a < args.Length; a++)
        {
            if (args[a] is null)
            {
                errors.Add(new($"{path}.run.args[{a}]", "an argument cannot be null (write \"\" for an empty one)"));
            }
        }

        foreach (var (name, value) in app.Run.Environment ?? [])
        {
            if (ConfigDefaults.ReservedEnvironmentVariables.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add(new($"{path}.run.environment.{name}", $"'{name}' is set by the gateway for each instance and cannot be overridden"));
            }
            else if (value is null)
            {
                errors.Add(new($"{path}.run.environment.{name}", "a value cannot be null (write \"\" for an empty one)"));
            }
        }
    }

    private static void ValidateLifecycle(GatewayConfig config, List<ConfigError> errors)
    {
        CheckRange(config.Instances?.DrainTimeoutSeconds, 0, 3600, "instances.drainTimeoutSeconds", errors);
        CheckRange(config.Instances?.StopTimeoutSeconds, 0, 600, "instances.stopTimeoutSeconds", errors);

        if (config.Reload?.PollIntervalSeconds is { } poll && (poll < 0 || poll > 3600))
        {
            errors.Add(new("reload.pollIntervalSeconds", $"must be between 0 (off) and 3600, not {poll}"));
        }

        CheckRange(config.Reload?.DebounceMilliseconds, 0, 60000, "reload.debounceMilliseconds", errors);
    }

    private static void ValidateManagement(GatewayConfig config, List<ConfigError> errors)
    {
        var management = config.Management;
        if (management is null)
        {
            return;
        }

        if (management.Address is { } address && !IsListenAddress(address))
        {
            errors.Add(new("management.address", $"'{address}' is not an IP address, '*' or 'localhost'"));
        }

        var keys = management.ApiKeys ?? [];
        var keyNames = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < keys.Length; i++)
        {
            var path = $"management.apiKeys[{i}]";
            var key = keys[i];
            if (key is null)
            {
                errors.Add(new(path, "an API key cannot be null"));
                continue;
            }

            if (CheckName(key.Name, $"{path}.name", "API key", errors) && !keyNames.TryAdd(key.Name!, i))
            {
                errors.Add(new($"{path}.name", $"'{key.Name}' is already the name of management.apiKeys[{keyNames[key.Name!]}]"));
            }

            if ((key.Sha256 is null) == (key.EnvironmentVariable is null))
            {
                errors.Add(new(path, "give either sha256 (the key's hash) or environmentVariable (where the key is), not both or neither"));
            }
            else if (key.Sha256 is { } hash && !Sha256Hex().IsMatch(hash))
            {
                errors.Add(new($"{path}.sha256", "must be 64 hexadecimal digits (the SHA-256 of the key)"));
            }
            else if (key.EnvironmentVariable is { } variable && !EnvironmentVariableName().IsMatch(variable))
            {
                errors.Add(new($"{path}.environmentVariable", $"'{variable}' is not an environment variable name"));
            }
        }

        CheckRange(management.MaxRequestBodySizeInKb, 1, 65536, "management.maxRequestBodySizeInKb", errors);

        if (management.Port is { } port)
        {
            if (port < 0 || port > 65535)
            {
                errors.Add(new("management.port", $"{port} is not a TCP port (0-65535)"));
            }
            else if (port != 0 && config.FrontEnd?.Listeners is { } listeners && Array.FindIndex(listeners, l => l?.Port == port) is var clash and >= 0)
            {
                errors.Add(new("management.port", $"{port} is already the port of frontEnd.listeners[{clash}]: the management API never shares a public listener"));
            }
        }
    }

    private static bool CheckName(string? name, string path, string what, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add(new(path, $"a {what} needs a name"));
            return false;
        }

        if (!ResourceName().IsMatch(name))
        {
            errors.Add(new(path, $"'{name}' is not a valid {what} name: use 1-60 letters, digits, hyphens or underscores"));
            return false;
        }

        return true;
    }

    /// <summary>
    /// Whether two listen addresses on one port collide when bound: the same address, a wildcard ('*', 0.0.0.0, ::)
    /// against anything (Kestrel binds '*' dual-mode, and Linux refuses a specific address on a port a wildcard holds),
    /// or 'localhost' against 127.0.0.1 or ::1 (what Kestrel binds for it).
    /// </summary>
    private static bool Overlaps(string a, string b)
    {
        var ipA = ParseListenAddress(a);
        var ipB = ParseListenAddress(b);
        if (string.Equals(a, b, StringComparison.OrdinalIgnoreCase) || (ipA is not null && ipA.Equals(ipB)))
        {
            return true;
        }

        static bool IsWildcard(string text, IPAddress? ip) => text == "*" || IPAddress.Any.Equals(ip) || IPAddress.IPv6Any.Equals(ip);
        static bool IsLocalhost(string text) => string.Equals(text, "localhost", StringComparison.OrdinalIgnoreCase);

        return IsWildcard(a, ipA) || IsWildcard(b, ipB)
            || (IsLocalhost(a) && (IPAddress.Loopback.Equals(ipB) || IPAddress.IPv6Loopback.Equals(ipB)))
            || (IsLocalhost(b) && (IPAddress.Loopback.Equals(ipA) || IPAddress.IPv6Loopback.Equals(ipA)));
    }

    private static IPAddress? ParseListenAddress(string address) => IPAddress.TryParse(address, out var ip) ? ip : null;

    /// <summary>The one "must be between" check every validator uses.</summary>
    internal static void CheckRange(int? value, int min, int max, string path, List<ConfigError> errors)
    {
        if (value is { } v && (v < min || v > max))
        {
            errors.Add(new(path, $"must be between {min} and {max}, not {v}"));
        }
    }

    internal static bool IsListenAddress(string address) =>
        address == "*" || string.Equals(address, "localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(address, out _);

    internal static bool IsHostName(string host, bool allowWildcard)
    {
        if (host.Length is 0 or > 253)
        {
            return false;
        }

        if (allowWildcard && host.StartsWith("*.", StringComparison.Ordinal))
        {
            host = host[2..];
        }

        return HostName().IsMatch(host);
    }

    private sealed record PoolFacts(int Index, int WorkerCount, bool IsStatic);

    private sealed record PlanFacts(int Index, PoolFacts? Pool);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")]
    private static partial Regex ResourceName();

    [GeneratedRegex("^[0-9A-Fa-f]{64}$")]
    private static partial Regex Sha256Hex();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvironmentVariableName();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$")]
    private static partial Regex AppName();

    [GeneratedRegex("^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex HostName();
}
