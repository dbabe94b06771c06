namespace AseGateway.Waf.Crs;

/// <summary>What a rule does when its chain matches. <see cref="Block"/> defers to the phase's SecDefaultAction.</summary>
internal enum CrsDisruptive
{
    None,
    Pass,
    Block,
    Deny,
    Drop,
    Allow,
    Redirect,
}

/// <summary>A non-disruptive action that changes the transaction, run in rule order when the chain matches.</summary>
internal abstract record CrsEffect;

/// <summary><c>setvar:tx.name=value</c>, <c>=+n</c>, <c>=-n</c>, or <c>!tx.name</c>.</summary>
internal sealed record CrsSetVar(string Collection, CrsMacro Key, CrsMacro? Value, char Operation) : CrsEffect;

/// <summary><c>ctl:name=value</c>: changes this transaction's engine settings or rule set.</summary>
internal sealed record CrsCtl(string Setting, string Value, string? TargetRule, CrsTarget? Target) : CrsEffect;

/// <summary>
/// One SecRule/SecAction/SecMarker. The loader builds it and then applies later directives (SecRuleUpdateTargetById,
/// SecRuleUpdateActionById, removals); once the program is built it is only read.
/// </summary>
internal sealed class CrsRule
{
    public int Id { get; set; }

    public required string Where { get; init; }

    public required string File { get; init; }

    public int Phase { get; set; } = 2;

    /// <summary>Name of a SecMarker; such an entry matches nothing and is a skipAfter target.</summary>
    public string? Marker { get; init; }

    public List<CrsTarget> Targets { get; } = [];

    /// <summary>Null for SecAction (unconditional).</summary>
    public CrsOperator? Operator { get; set; }

    public List<Func<string, string>> Transforms { get; } = [];

    public List<string> TransformNames { get; } = [];

    /// <summary>Number of the transformation chain (equal chains, equal numbers; set when the program is built): with the
    /// value, the key of the request's cache of transformed values, so rules with the same chain transform a value once.</summary>
    public int TransformChain { get; set; }

    /// <summary>Some target is an exclusion (<c>!VAR:name</c>; set when the program is built): values need the check.</summary>
    public bool HasExclusions { get; set; }

    public bool HasNone { get; set; }

    public bool MultiMatch { get; set; }

    public bool Capture { get; set; }

    public bool? Log { get; set; }

    public CrsDisruptive Disruptive { get; set; }

    public int Status { get; set; }

    public List<CrsEffect> Effects { get; } = [];

    public CrsMacro? Message { get; set; }

    public CrsMacro? LogData { get; set; }

    public string? Severity { get; set; }

    public List<string> Tags { get; } = [];

    public string? SkipAfter { get; set; }

    /// <summary>Index in the phase's rule list to continue at after a match with skipAfter (resolved at build).</summary>
    public int SkipAfterIndex { get; set; } = -1;

    public int Skip { get; set; }

    public bool StartsChain { get; set; }

    public CrsRule? Chained { get; set; }

    public ManagedRuleInfo Info { get; set; } = null!;

    public bool IsMarker => Marker is not null;
}
