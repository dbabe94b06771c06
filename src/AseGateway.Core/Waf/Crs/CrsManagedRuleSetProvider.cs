using AseGateway.Configuration;

namespace AseGateway.Waf.Crs;

/// <summary>
/// Creates OWASP CRS rule sets ("ruleSetType": "OWASP", "ruleSetVersion": "3.3" or "4.x") from a rules directory:
/// the configured <c>rulesPath</c>, or for 3.3 where Debian's <c>modsecurity-crs</c> package installs it.
/// </summary>
internal sealed class CrsManagedRuleSetProvider : IManagedRuleSetProvider
{
    /// <summary>Where the distribution package modsecurity-crs installs CRS 3.3 (Dockerfile and .ci/run install it).</summary>
    public const string DistributionRulesPath = "/usr/share/modsecurity-crs";

    /// <summary>One per provider, and the gateway keeps its providers across reloads: a reload that leaves the CRS
    /// files and settings alone reuses the compiled program.</summary>
    private readonly CrsCompiledRuleSetCache _compiled = new();

    /// <summary>Programs compiled so far (a reuse does not count).</summary>
    internal int Compilations => _compiled.Compilations;

    public bool Supports(string ruleSetType, string ruleSetVersion) =>
        string.Equals(ruleSetType, CrsManagedRuleSet.Type, StringComparison.OrdinalIgnoreCase) && CrsManagedRuleSet.IsSupportedVersion(ruleSetVersion);

    public IManagedRuleSet Create(string ruleSetType, string ruleSetVersion) =>
        Create(new WafManagedRuleSetConfig { RuleSetType = ruleSetType, RuleSetVersion = ruleSetVersion }, AppContext.BaseDirectory);

    public IManagedRuleSet Create(WafManagedRuleSetConfig config, string baseDirectory)
    {
        var path = config.RulesPath is { } configured ? Path.GetFullPath(configured, baseDirectory) : DistributionRulesPath;
        var disabled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in config.RuleGroupOverrides ?? [])
        {
            foreach (var rule in group?.Rules ?? [])
            {
                if (rule?.State == WafState.Disabled && rule.RuleId is { } id)
                {
                    disabled.Add(id);
                }
            }
        }

        try
        {
            var program = _compiled.GetOrLoad(new CrsLoadOptions(path, config.ParanoiaLevel ?? 1, null, config.InboundAnomalyScoreThreshold, disabled, config.OutboundAnomalyScoreThreshold));
            return new CrsManagedRuleSet(config.RuleSetVersion!, program);
        }
        catch (SecLangException ex)
        {
            throw new ManagedRuleSetLoadException($"OWASP CRS in '{path}' cannot be loaded: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new ManagedRuleSetLoadException($"OWASP CRS in '{path}' cannot be read: {ex.Message}", ex);
        }
    }
}
