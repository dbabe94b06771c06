namespace AseGateway.Waf.Crs;

/// <summary>
/// A loaded CRS: rules per phase (with SecMarkers in every phase, skipAfter resolved to indexes), compiled once per
/// configuration snapshot and shared read-only by every request.
/// </summary>
internal sealed class CrsProgram(CrsRule[][] phases, IReadOnlyList<ManagedRuleInfo> rules, IReadOnlyList<string> signatures, string ruleEngine, char argumentSeparator)
{
    /// <summary>Index 1-5: the rules of that phase in load order.</summary>
    public CrsRule[][] Phases { get; } = phases;

    public IReadOnlyList<ManagedRuleInfo> Rules { get; } = rules;

    public IReadOnlyList<string> Signatures { get; } = signatures;

    /// <summary>SecRuleEngine from the rule files (On unless they say otherwise).</summary>
    public string RuleEngine { get; } = ruleEngine;

    public char ArgumentSeparator { get; } = argumentSeparator;

    public int RuleCount => Rules.Count;
}
