namespace AseGateway.Waf.Crs;

/// <summary>
/// A loaded CRS: rules per phase (with SecMarkers in every phase, skipAfter resolved to indexes), compiled once per
/// configuration snapshot and shared read-only by every request.
/// </summary>
internal sealed class CrsProgram(CrsRule[][] phases, IReadOnlyList<ManagedRuleInfo> rules, IReadOnlyList<string> signatures, string ruleEngine, char argumentSeparator, CrsResponseSettings response)
{
    /// <summary>Index 1-5: the rules of that phase in load order.</summary>
    public CrsRule[][] Phases { get; } = phases;

    public IReadOnlyList<ManagedRuleInfo> Rules { get; } = rules;

    public IReadOnlyList<string> Signatures { get; } = signatures;

    /// <summary>SecRuleEngine from the rule files (On unless they say otherwise).</summary>
    public string RuleEngine { get; } = ruleEngine;

    public char ArgumentSeparator { get; } = argumentSeparator;

    public int RuleCount => Rules.Count;

    /// <summary>The response-body directives (SecResponseBodyAccess ...).</summary>
    public CrsResponseSettings Response { get; } = response;

    /// <summary>
    /// True when phase 3 or 4 holds a rule: only then does a request keep its transaction for the response and the
    /// gateway hold the response until the verdict. Compiled once, so traffic through a rule set without response
    /// rules pays nothing.
    /// </summary>
    public bool HasResponseRules { get; } = HasRules(phases[3]) || HasRules(phases[4]);

    /// <summary>True when response bodies of the listed types are buffered for phase 4 (SecResponseBodyAccess On and phase 4 rules).</summary>
    public bool InspectsResponseBodies => Response.BodyAccess && HasRules(Phases[4]);

    private static bool HasRules(CrsRule[] rules)
    {
        foreach (var rule in rules)
        {
            if (!rule.IsMarker)
            {
                return true;
            }
        }

        return false;
    }
}
