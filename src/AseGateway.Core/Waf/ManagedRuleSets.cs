namespace AseGateway.Waf;

/// <summary>Severity of a managed rule; each match adds its score to the request's anomaly score.</summary>
public enum WafSeverity
{
    Notice = 2,
    Warning = 3,
    Error = 4,
    Critical = 5,
}

/// <summary>A rule of a managed rule set, as overrides and exclusions name it.</summary>
public sealed record ManagedRuleInfo(string RuleId, string RuleGroup, WafSeverity Severity, string Description);

/// <summary>
/// A managed rule that matched: the rule, what it saw, and where. <paramref name="Interrupts"/> is set by rule sets
/// that score themselves (<see cref="IManagedRuleSet.ScoresItself"/>) when the rule's own action blocks the request.
/// </summary>
public sealed record ManagedRuleMatch(ManagedRuleInfo Rule, string Variable, string MatchedData, string Message, bool Interrupts = false);

/// <summary>
/// A managed rule set, compiled once per snapshot and shared by all requests (the seam where e.g. the OWASP Core
/// Rule Set engine plugs in). <see cref="Evaluate"/> reports matches through the context, which applies the
/// policy's exclusions and disabled rules before anything is inspected.
/// </summary>
public interface IManagedRuleSet
{
    string RuleSetType { get; }

    string RuleSetVersion { get; }

    IReadOnlyList<ManagedRuleInfo> Rules { get; }

    /// <summary>
    /// True for rule sets that keep their own anomaly score and report the blocking rule (the OWASP CRS engine, whose
    /// rule 949110 decides); false for sets whose matches the policy scores by severity.
    /// </summary>
    bool ScoresItself => false;

    /// <summary>
    /// Runs the set's request rules, reporting matches to <paramref name="context"/>. The context is the caller's to
    /// reuse once this returns, unless a match was reported or a response inspection set: keep no other reference to it.
    /// </summary>
    void Evaluate(WafRequest request, ManagedRuleContext context);
}

/// <summary>Creates managed rule sets by type and version, as the configuration names them.</summary>
public interface IManagedRuleSetProvider
{
    bool Supports(string ruleSetType, string ruleSetVersion);

    IManagedRuleSet Create(string ruleSetType, string ruleSetVersion);

    /// <summary>Creates the set with its configuration (e.g. a rules directory, relative to <paramref name="baseDirectory"/>).</summary>
    IManagedRuleSet Create(Configuration.WafManagedRuleSetConfig config, string baseDirectory) => Create(config.RuleSetType!, config.RuleSetVersion!);
}

/// <summary>A managed rule set that cannot be loaded (e.g. a rule file error, named by file and line).</summary>
public sealed class ManagedRuleSetLoadException(string message, Exception? inner = null) : Exception(message, inner);
