using System.Collections.Frozen;
using AseGateway.Configuration;

namespace AseGateway.Waf;

/// <summary>A managed rule set with the policy's overrides and exclusions for it.</summary>
internal sealed record CompiledManagedRuleSet(IManagedRuleSet RuleSet, FrozenDictionary<string, WafRuleOverride> Overrides, WafExclusion[] Exclusions);

/// <summary>A WAF policy compiled for evaluation: rules sorted, regexes built, managed rule sets created.</summary>
internal sealed class WafPolicyModel
{
    public required string Name { get; init; }

    public required bool Enabled { get; init; }

    public required WafMode Mode { get; init; }

    public required bool RequestBodyCheck { get; init; }

    public required long MaxRequestBodyBytes { get; init; }

    public required int InspectLimitBytes { get; init; }

    public required long FileUploadLimitBytes { get; init; }

    public required bool RequestBodyEnforcement { get; init; }

    public required bool FileUploadEnforcement { get; init; }

    public required int BlockStatusCode { get; init; }

    public required string BlockBody { get; init; }

    public required int AnomalyThreshold { get; init; }

    public required CompiledCustomRule[] CustomRules { get; init; }

    public required CompiledManagedRuleSet[] ManagedRuleSets { get; init; }

    public required IWafHook[] Hooks { get; init; }

    /// <param name="created">Rule sets already created for these configurations (loading CRS is costly: once per snapshot).</param>
    public static WafPolicyModel Compile(WafPolicyConfig policy, IReadOnlyList<IManagedRuleSetProvider> providers, IReadOnlyDictionary<WafManagedRuleSetConfig, IManagedRuleSet>? created = null)
    {
        var settings = policy.PolicySettings;
        var rules = new List<CompiledCustomRule>();
        foreach (var rule in policy.CustomRules ?? [])
        {
            if (rule.State != WafState.Disabled)
            {
                rules.Add(CompiledCustomRule.Compile(rule));
            }
        }

        rules.Sort(static (a, b) => a.Priority.CompareTo(b.Priority));
        var hooks = new List<IWafHook>();
        foreach (var hook in policy.Hooks ?? [])
        {
            hooks.Add(new HttpWafHook(hook));
        }

        var maxBody = (settings?.MaxRequestBodySizeInKb ?? 128) * 1024L;
        return new WafPolicyModel
        {
            Name = policy.Name!,
            Enabled = settings?.State != WafState.Disabled,
            Mode = settings?.Mode ?? WafMode.Detection,
            RequestBodyCheck = settings?.RequestBodyCheck ?? true,
            MaxRequestBodyBytes = maxBody,
            InspectLimitBytes = (settings?.RequestBodyInspectLimitInKB ?? 128) * 1024,
            FileUploadLimitBytes = (settings?.FileUploadLimitInMb ?? 100) * 1024L * 1024L,
            RequestBodyEnforcement = settings?.RequestBodyEnforcement ?? true,
            FileUploadEnforcement = settings?.FileUploadEnforcement ?? true,
            BlockStatusCode = settings?.CustomBlockResponseStatusCode ?? 403,
            BlockBody = settings?.CustomBlockResponseBody ?? "403 Forbidden: the request was blocked by the web application firewall (transaction {transactionId}).\n",
            AnomalyThreshold = settings?.AnomalyScoreThreshold ?? 5,
            CustomRules = [.. rules],
            ManagedRuleSets = CompileManaged(policy.ManagedRules, providers, created),
            Hooks = [.. hooks],
        };
    }

    private static CompiledManagedRuleSet[] CompileManaged(WafManagedRulesConfig? managed, IReadOnlyList<IManagedRuleSetProvider> providers, IReadOnlyDictionary<WafManagedRuleSetConfig, IManagedRuleSet>? created)
    {
        var sets = new List<CompiledManagedRuleSet>();
        foreach (var config in managed?.ManagedRuleSets ?? [])
        {
            if (created is null || !created.TryGetValue(config, out var set))
            {
                var provider = providers.First(p => p.Supports(config.RuleSetType!, config.RuleSetVersion!));
                set = provider.Create(config.RuleSetType!, config.RuleSetVersion!);
            }

            var overrides = new Dictionary<string, WafRuleOverride>(StringComparer.OrdinalIgnoreCase);
            foreach (var group in config.RuleGroupOverrides ?? [])
            {
                foreach (var rule in group.Rules ?? [])
                {
                    overrides[rule.RuleId!] = new WafRuleOverride(rule.State == WafState.Disabled, rule.Action is null or "AnomalyScoring" ? null : rule.Action);
                }
            }

            var exclusions = new List<WafExclusion>();
            foreach (var exclusion in managed!.Exclusions ?? [])
            {
                if (AppliesToSet(exclusion, set, out var scope))
                {
                    exclusions.Add(new WafExclusion(WafExclusion.Variables[exclusion.MatchVariable!], exclusion.SelectorMatchOperator ?? "Equals", exclusion.Selector ?? string.Empty, scope));
                }
            }

            sets.Add(new CompiledManagedRuleSet(set, overrides.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), [.. exclusions]));
        }

        return [.. sets];
    }

    /// <summary>An exclusion without scope applies to every set; a scoped one to the sets (and groups and rules) it names.</summary>
    private static bool AppliesToSet(WafExclusionConfig exclusion, IManagedRuleSet set, out IReadOnlyList<(string? Group, IReadOnlyList<string>? RuleIds)>? scope)
    {
        scope = null;
        if (exclusion.ExclusionManagedRuleSets is not { Length: > 0 } scopes)
        {
            return true;
        }

        var parts = new List<(string?, IReadOnlyList<string>?)>();
        foreach (var target in scopes)
        {
            if (!string.Equals(target.RuleSetType, set.RuleSetType, StringComparison.OrdinalIgnoreCase) || target.RuleSetVersion != set.RuleSetVersion)
            {
                continue;
            }

            if (target.RuleGroups is not { Length: > 0 } groups)
            {
                parts.Add((null, null));
                continue;
            }

            foreach (var group in groups)
            {
                parts.Add((group.RuleGroupName, group.RuleIds is { Length: > 0 } ids ? ids : null));
            }
        }

        scope = parts;
        return parts.Count > 0;
    }
}
