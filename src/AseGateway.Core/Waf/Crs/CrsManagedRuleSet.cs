namespace AseGateway.Waf.Crs;

/// <summary>
/// The OWASP Core Rule Set on this project's SecLang engine, as a managed rule set: loaded and compiled once per
/// configuration snapshot, evaluated per request in a fresh <see cref="CrsTransaction"/>. CRS keeps its own anomaly
/// score (paranoia levels, inbound threshold) and its rule 949110 decides, so the policy does not re-score it.
/// </summary>
internal sealed class CrsManagedRuleSet : IManagedRuleSet
{
    public const string Type = "OWASP";

    private readonly CrsProgram _program;

    public CrsManagedRuleSet(string version, CrsProgram program)
    {
        RuleSetVersion = version;
        _program = program;
    }

    public string RuleSetType => Type;

    public string RuleSetVersion { get; }

    public IReadOnlyList<ManagedRuleInfo> Rules => _program.Rules;

    public bool ScoresItself => true;

    internal CrsProgram Program => _program;

    public void Evaluate(WafRequest request, ManagedRuleContext context)
    {
        var data = CrsRequestData.From(request, _program.ArgumentSeparator);
        var transaction = new CrsTransaction(_program, data, context);
        transaction.Run();
        if (_program.HasResponseRules && !(transaction.Interrupted && context.Prevention))
        {
            // The transaction (TX, anomaly scores, ctl changes) lives on for phases 3 and 4 of this request.
            context.ResponseInspection = new CrsResponseInspection(_program, transaction);
        }
    }

    /// <summary>"3.3", "3.3.x", "4", "4.x", "4.28" ...: the CRS major versions this engine runs.</summary>
    public static bool IsSupportedVersion(string version) =>
        version == "4" || version.StartsWith("4.", StringComparison.Ordinal) || version == "3.3" || version.StartsWith("3.3.", StringComparison.Ordinal);
}
