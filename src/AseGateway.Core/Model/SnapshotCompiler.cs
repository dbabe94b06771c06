using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using AseGateway.Configuration;
using AseGateway.Instances;

namespace AseGateway.Model;

/// <summary>
/// Turns a validated configuration into an immutable snapshot: defaults applied, names resolved, instances laid
/// out on their pools. Runs in the control plane only.
/// </summary>
internal static class SnapshotCompiler
{
    /// <exception cref="Hosting.GatewayConfigurationException">Certificates could not be loaded.</exception>
    public static GatewaySnapshot Compile(ConfigLoadResult loaded, long generation, DateTimeOffset now, IReadOnlyList<Waf.IManagedRuleSetProvider>? providers = null)
    {
        var errors = new List<ConfigError>();
        return TryCompile(loaded, generation, now, errors, [], providers) ?? throw new Hosting.GatewayConfigurationException(errors);
    }

    /// <summary>The managed rule sets every gateway has; hosts may add their own (e.g. a CRS engine).</summary>
    public static readonly IReadOnlyList<Waf.IManagedRuleSetProvider> BuiltInProviders = [new Waf.BuiltInManagedRuleSetProvider(), new Waf.Crs.CrsManagedRuleSetProvider()];

    /// <summary>Compiles, or returns null with the errors found while loading what the file points at (certificates).</summary>
    /// <param name="previous">The snapshot serving now, on a reload: unchanged certificates are taken from it.</param>
    public static GatewaySnapshot? TryCompile(ConfigLoadResult loaded, long generation, DateTimeOffset now, List<ConfigError> errors, List<string> warnings, IReadOnlyList<Waf.IManagedRuleSetProvider>? providers = null, GatewaySnapshot? previous = null)
    {
        if (!loaded.IsValid)
        {
            throw new InvalidOperationException("Only a validated configuration can be compiled.");
        }

        providers ??= BuiltInProviders;
        var tls = Tls.TlsCompiler.Compile(loaded.Config!, loaded.BaseDirectory, now, errors, warnings, previous?.Tls);
        var wafPolicies = CompileWaf(loaded.Config!, loaded.BaseDirectory, providers, errors);
        if (errors.Count > 0)
        {
            return null;
        }

        var config = loaded.Config!;
        var environmentName = config.Name!;
        var suffix = config.DnsSuffix?.ToLowerInvariant();
        var environmentHealth = config.HealthCheck;

        var pools = (config.WorkerPools ?? []).ToDictionary(p => p.Name!, StringComparer.OrdinalIgnoreCase);
        var plans = (config.Plans ?? []).ToDictionary(p => p.Name!, StringComparer.OrdinalIgnoreCase);
        var staticWorkers = AssignStaticWorkers(config);

        var tags = Nsg.NsgCompiler.ResolveTags(config.NetworkSecurityGroup);
        var apps = new Dictionary<string, AppModel>(StringComparer.OrdinalIgnoreCase);
        var instances = new List<InstanceSpec>();
        foreach (var app in config.Apps ?? [])
        {
            var plan = plans[app.Plan!];
            var pool = pools[plan.WorkerPool!];
            var health = CompileHealth(app, environmentHealth);
            var hostNames = new List<string>();
            foreach (var host in app.HostNames ?? [])
            {
                hostNames.Add(host.ToLowerInvariant());
            }

            string defaultHost;
            if (suffix is not null)
            {
                defaultHost = $"{app.Name!.ToLowerInvariant()}.{suffix}";
                hostNames.Add(defaultHost);
            }
            else
            {
                defaultHost = hostNames[0];
            }

            var model = new AppModel
            {
                Name = app.Name!,
                PlanName = plan.Name!,
                PoolName = pool.Name!,
                DefaultHostName = defaultHost,
                HostNames = hostNames,
                ClientAffinityEnabled = app.ClientAffinityEnabled ?? ConfigDefaults.ClientAffinityEnabled,
                LoadBalancingPolicy = app.LoadBalancing ?? ConfigDefaults.LoadBalancingPolicy,
                HealthCheck = health,
                AccessRestrictions = Access.AccessRestrictionModel.Compile(app.AccessRestrictions, tags),
                HttpsOnly = app.HttpsOnly ?? false,
                Hsts = app.Hsts is { } hsts ? HstsValue(hsts) : null,
                ClientCertMode = app.ClientCertMode ?? ClientCertMode.Ignore,
                ClientCertExclusionPaths = app.ClientCertExclusionPaths ?? [],
                Waf = (app.WafPolicy ?? config.DefaultWafPolicy) is { } policyName ? wafPolicies[policyName] : null,
                MaxAttempts = CompileMaxAttempts(app.Retry, config.Retry),
            };
            apps.Add(model.Name, model);

            var launch = app.Run is null ? null : CompileLaunch(app.Run, loaded.BaseDirectory);
            for (var index = 0; index < plan.InstanceCount; index++)
            {
                instances.Add(new InstanceSpec
                {
                    Key = $"{model.Name}/{plan.Name}/{index}",
                    AppName = model.Name,
                    PlanName = plan.Name!,
                    PoolName = pool.Name!,
                    Index = index,
                    InstanceId = InstanceId(environmentName, pool.Name!, plan.Name!, index),
                    HostName = defaultHost,
                    StaticAddress = pool.Workers is null ? null : staticWorkers[(plan.Name!, index)],
                    Launch = launch,
                    HealthCheck = health,
                });
            }
        }

        var listeners = new List<ListenerModel>();
        foreach (var listener in config.FrontEnd!.Listeners!)
        {
            listeners.Add(new ListenerModel(listener.Name!, listener.Address ?? ConfigDefaults.ListenerAddress, listener.Port!.Value, listener.Protocol!.Value));
        }

        return new GatewaySnapshot
        {
            Generation = generation,
            Config = config,
            ConfigSha256 = loaded.Sha256,
            SourceName = loaded.SourceName,
            LoadedAt = now,
            EnvironmentName = environmentName,
            DnsSuffix = suffix,
            Listeners = listeners,
            TrustedForwarders = IpPrefixSet.Parse(config.FrontEnd.TrustedForwarders),
            Apps = apps.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase),
            Instances = instances,
            Management = new ManagementModel(
                config.Management?.Address ?? ConfigDefaults.ManagementAddress,
                config.Management?.Port ?? ConfigDefaults.ManagementPort,
                CompileApiKeys(config.Management?.ApiKeys),
                (config.Management?.MaxRequestBodySizeInKb ?? ConfigDefaults.ManagementMaxRequestBodySizeInKb) * 1024L,
                config.Management?.MetricsRequireApiKey ?? true),
            Nsg = Nsg.NsgCompiler.Compile(config.NetworkSecurityGroup),
            Limits = LimitsModel.From(config.FrontEnd.Limits),
            Tls = tls,
            DrainTimeout = TimeSpan.FromSeconds(config.Instances?.DrainTimeoutSeconds ?? ConfigDefaults.DrainTimeoutSeconds),
            StopTimeout = TimeSpan.FromSeconds(config.Instances?.StopTimeoutSeconds ?? ConfigDefaults.StopTimeoutSeconds),
            AccessLog = Observability.AccessLogModel.Compile(config.Observability?.AccessLog, loaded.BaseDirectory),
        };
    }

    /// <summary>
    /// A static pool's enabled workers (the first workerCount listed) are handed to its plans in the order the
    /// plans appear: an instance is a worker, and no two plan instances share one.
    /// </summary>
    private static Dictionary<(string Plan, int Index), Uri> AssignStaticWorkers(GatewayConfig config)
    {
        var assignment = new Dictionary<(string, int), Uri>(new PlanIndexComparer());
        foreach (var pool in config.WorkerPools ?? [])
        {
            if (pool.Workers is null)
            {
                continue;
            }

            var next = 0;
            foreach (var plan in config.Plans ?? [])
            {
                if (!string.Equals(plan.WorkerPool, pool.Name, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                for (var index = 0; index < plan.InstanceCount; index++)
                {
                    assignment[(plan.Name!, index)] = new Uri(pool.Workers[next++].Address!, UriKind.Absolute);
                }
            }
        }

        return assignment;
    }

    private static HealthCheckModel CompileHealth(AppConfig app, HealthCheckConfig? environment)
    {
        var own = app.HealthCheck;
        var interval = own?.IntervalSeconds ?? environment?.IntervalSeconds ?? ConfigDefaults.HealthCheckIntervalSeconds;
        var timeout = own?.TimeoutSeconds ?? environment?.TimeoutSeconds ?? Math.Min(ConfigDefaults.HealthCheckTimeoutSeconds, interval);
        return new HealthCheckModel(
            app.HealthCheckPath,
            TimeSpan.FromSeconds(interval),
            TimeSpan.FromSeconds(timeout),
            own?.MaxPingFailures ?? environment?.MaxPingFailures ?? ConfigDefaults.MaxPingFailures,
            own?.MaxUnhealthyPercent ?? environment?.MaxUnhealthyPercent ?? ConfigDefaults.MaxUnhealthyPercent);
    }

    /// <summary>The app's own setting wins field by field over the environment's; disabled means one attempt.</summary>
    private static int CompileMaxAttempts(RetryConfig? own, RetryConfig? environment) =>
        (own?.Enabled ?? environment?.Enabled ?? ConfigDefaults.RetryEnabled)
            ? own?.MaxAttempts ?? environment?.MaxAttempts ?? ConfigDefaults.RetryMaxAttempts
            : 1;

    private static ProcessLaunchSpec CompileLaunch(RunConfig run, string baseDirectory)
    {
        var fileName = CommandLocator.Resolve(run.Command!, baseDirectory) ?? run.Command!;
        var workingDirectory = Path.GetFullPath(run.WorkingDirectory ?? ".", baseDirectory);
        return new ProcessLaunchSpec(
            fileName,
            run.Args ?? [],
            workingDirectory,
            run.Environment is null ? FrozenDictionary<string, string>.Empty : run.Environment.ToFrozenDictionary());
    }

    /// <summary>
    /// Hashes keys given through environment variables; a variable that is not set yields no key (the API then
    /// refuses that caller) rather than an error, so a file can name keys that only some hosts provide.
    /// </summary>
    private static List<ApiKeyModel> CompileApiKeys(ApiKeyConfig[]? keys)
    {
        var compiled = new List<ApiKeyModel>();
        foreach (var key in keys ?? [])
        {
            byte[]? hash = null;
            if (key.Sha256 is { } hex)
            {
                hash = Convert.FromHexString(hex);
            }
            else if (key.EnvironmentVariable is { } variable && Environment.GetEnvironmentVariable(variable) is { Length: > 0 } plain)
            {
                hash = SHA256.HashData(Encoding.UTF8.GetBytes(plain));
            }

            if (hash is not null)
            {
                compiled.Add(new ApiKeyModel(key.Name!, hash, key.Role ?? ApiKeyRole.Admin));
            }
        }

        return compiled;
    }

    /// <summary>Compiles every WAF policy; rule sets are resolved by type and version, and overrides must name real rules.</summary>
    private static Dictionary<string, Waf.WafPolicyModel> CompileWaf(GatewayConfig config, string baseDirectory, IReadOnlyList<Waf.IManagedRuleSetProvider> providers, List<ConfigError> errors)
    {
        var created = new Dictionary<WafManagedRuleSetConfig, Waf.IManagedRuleSet>(ReferenceEqualityComparer.Instance);
        var policies = new Dictionary<string, Waf.WafPolicyModel>(StringComparer.OrdinalIgnoreCase);
        var list = config.WafPolicies ?? [];
        var before = errors.Count;
        for (var p = 0; p < list.Length; p++)
        {
            var sets = list[p].ManagedRules?.ManagedRuleSets ?? [];
            for (var s = 0; s < sets.Length; s++)
            {
                var path = $"wafPolicies[{p}].managedRules.managedRuleSets[{s}]";
                var provider = providers.FirstOrDefault(x => x.Supports(sets[s].RuleSetType ?? string.Empty, sets[s].RuleSetVersion ?? string.Empty));
                if (provider is null)
                {
                    errors.Add(new ConfigError(path, $"no managed rule set '{sets[s].RuleSetType}' version '{sets[s].RuleSetVersion}' is available (built in: {Waf.AseDefaultRuleSet.Type} {Waf.AseDefaultRuleSet.Version})"));
                    continue;
                }

                Waf.IManagedRuleSet set;
                try
                {
                    set = provider.Create(sets[s], baseDirectory);
                }
                catch (Waf.ManagedRuleSetLoadException ex)
                {
                    errors.Add(new ConfigError(path, ex.Message));
                    continue;
                }

                created[sets[s]] = set;
                var known = set.Rules.Select(r => r.RuleId).ToHashSet(StringComparer.OrdinalIgnoreCase);
                var groups = sets[s].RuleGroupOverrides ?? [];
                for (var g = 0; g < groups.Length; g++)
                {
                    var rules = groups[g]?.Rules ?? [];
                    for (var r = 0; r < rules.Length; r++)
                    {
                        if (rules[r]?.RuleId is not { } id || !known.Contains(id))
                        {
                            errors.Add(new ConfigError($"{path}.ruleGroupOverrides[{g}].rules[{r}].ruleId", $"rule '{rules[r]?.RuleId}' is not in {sets[s].RuleSetType} {sets[s].RuleSetVersion}"));
                        }
                    }
                }
            }
        }

        if (errors.Count > before)
        {
            return policies;
        }

        foreach (var policy in list)
        {
            policies[policy.Name!] = Waf.WafPolicyModel.Compile(policy, providers, created);
        }

        return policies;
    }

    private static string HstsValue(HstsConfig hsts)
    {
        var value = $"max-age={hsts.MaxAgeSeconds ?? 31536000}";
        value += hsts.IncludeSubDomains == true ? "; includeSubDomains" : string.Empty;
        return value + (hsts.Preload == true ? "; preload" : string.Empty);
    }

    internal static string InstanceId(string environment, string pool, string plan, int index)
    {
        var text = $"{environment}/{pool}/{plan}/{index}".ToLowerInvariant();
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private sealed class PlanIndexComparer : IEqualityComparer<(string Plan, int Index)>
    {
        public bool Equals((string Plan, int Index) x, (string Plan, int Index) y) =>
            x.Index == y.Index && string.Equals(x.Plan, y.Plan, StringComparison.OrdinalIgnoreCase);

        public int GetHashCode((string Plan, int Index) obj) =>
            HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(obj.Plan), obj.Index);
    }
}
