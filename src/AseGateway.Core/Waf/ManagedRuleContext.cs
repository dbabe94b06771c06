using System.Collections.Frozen;
using System.Diagnostics;
using AseGateway.Configuration;

namespace AseGateway.Waf;

/// <summary>What a managed rule inspects; exclusions are stated in these terms.</summary>
public enum WafInspectedKind
{
    Uri,
    ArgName,
    ArgValue,
    HeaderName,
    HeaderValue,
    CookieName,
    CookieValue,
    Body,
}

/// <summary>One compiled exclusion: which part of the request, which names, and for which rules.</summary>
internal sealed record WafExclusion(WafInspectedKind[] Kinds, string Operator, string Selector, IReadOnlyList<(string? Group, IReadOnlyList<string>? RuleIds)>? Scope)
{
    public bool Applies(ManagedRuleInfo rule, WafInspectedKind kind, string name)
    {
        if (Array.IndexOf(Kinds, kind) < 0 || !Matches(name))
        {
            return false;
        }

        if (Scope is null)
        {
            return true;
        }

        foreach (var (group, ids) in Scope)
        {
            if ((group is null || string.Equals(group, rule.RuleGroup, StringComparison.OrdinalIgnoreCase))
                && (ids is null || ids.Contains(rule.RuleId)))
            {
                return true;
            }
        }

        return false;
    }

    private bool Matches(string name) => Operator switch
    {
        "EqualsAny" => true,
        "Equals" => string.Equals(name, Selector, StringComparison.OrdinalIgnoreCase),
        "StartsWith" => name.StartsWith(Selector, StringComparison.OrdinalIgnoreCase),
        "EndsWith" => name.EndsWith(Selector, StringComparison.OrdinalIgnoreCase),
        "Contains" => name.Contains(Selector, StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// <summary>Azure's exclusion variables: "…Names" (legacy) exclude the named item's value, "…Keys" its name, "…Values" its value.</summary>
    public static readonly IReadOnlyDictionary<string, WafInspectedKind[]> Variables = new Dictionary<string, WafInspectedKind[]>(StringComparer.OrdinalIgnoreCase)
    {
        ["RequestHeaderNames"] = [WafInspectedKind.HeaderValue],
        ["RequestHeaderKeys"] = [WafInspectedKind.HeaderName],
        ["RequestHeaderValues"] = [WafInspectedKind.HeaderValue],
        ["RequestCookieNames"] = [WafInspectedKind.CookieValue],
        ["RequestCookieKeys"] = [WafInspectedKind.CookieName],
        ["RequestCookieValues"] = [WafInspectedKind.CookieValue],
        ["RequestArgNames"] = [WafInspectedKind.ArgValue],
        ["RequestArgKeys"] = [WafInspectedKind.ArgName],
        ["RequestArgValues"] = [WafInspectedKind.ArgValue],
    };

    public static readonly IReadOnlyList<string> Operators = ["Equals", "StartsWith", "EndsWith", "Contains", "EqualsAny"];
}

/// <summary>A rule's override: off, or a different action than anomaly scoring.</summary>
internal sealed record WafRuleOverride(bool Disabled, string? Action);

/// <summary>
/// Per request and rule set: which rules run, what they may look at (exclusions), and the matches they report. Valid
/// for the rule set's <see cref="IManagedRuleSet.Evaluate"/> only, unless it reports a match or sets a response
/// inspection: a context that did neither is reused for the thread's next evaluation (a clean request, the usual one,
/// then allocates none).
/// </summary>
public sealed class ManagedRuleContext
{
    [ThreadStatic]
    private static ManagedRuleContext? _spare;

    private IReadOnlyDictionary<string, WafRuleOverride> _overrides;
    private WafExclusion[] _exclusions;

    // Made at the first match: a clean request (the usual one) reports nothing.
    private List<ManagedRuleMatch>? _matches;

    internal ManagedRuleContext(IReadOnlyDictionary<string, WafRuleOverride> overrides, WafExclusion[] exclusions)
    {
        _overrides = overrides;
        _exclusions = exclusions;
    }

    /// <summary>The thread's spare context set up for one evaluation, or a new one.</summary>
    internal static ManagedRuleContext Rent(IReadOnlyDictionary<string, WafRuleOverride> overrides, WafExclusion[] exclusions, bool prevention)
    {
        var context = _spare;
        if (context is null)
        {
            return new ManagedRuleContext(overrides, exclusions) { Prevention = prevention };
        }

        _spare = null;
        context._overrides = overrides;
        context._exclusions = exclusions;
        context.Prevention = prevention;
        return context;
    }

    /// <summary>
    /// After an evaluation that reported nothing and kept nothing for the response (<see cref="IsUnused"/>), the
    /// context becomes the thread's spare; one that did stays with the findings and response checks that refer to it.
    /// </summary>
    internal void Release()
    {
        Debug.Assert(IsUnused, "A context that reported a match or kept a response inspection is still referred to.");
        _overrides = FrozenDictionary<string, WafRuleOverride>.Empty;
        _exclusions = [];
        _spare = this;
    }

    /// <summary>No match reported and no response inspection set.</summary>
    internal bool IsUnused => _matches is null && ResponseInspection is null;

    public IReadOnlyList<ManagedRuleMatch> Matches => (IReadOnlyList<ManagedRuleMatch>?)_matches ?? [];

    /// <summary>True when the policy blocks (Prevention): a rule set may stop at its first blocking rule.</summary>
    public bool Prevention { get; private set; }

    public bool IsEnabled(ManagedRuleInfo rule) => _overrides.Count == 0 || !(_overrides.TryGetValue(rule.RuleId, out var ruleOverride) && ruleOverride.Disabled);

    /// <summary>False when an exclusion removes this part of the request from this rule's inspection.</summary>
    public bool MayInspect(ManagedRuleInfo rule, WafInspectedKind kind, string name)
    {
        // Asked for every rule and every part it reads: an array walked by index, no enumerator.
        for (var i = 0; i < _exclusions.Length; i++)
        {
            if (_exclusions[i].Applies(rule, kind, name))
            {
                return false;
            }
        }

        return true;
    }

    public void Report(ManagedRuleMatch match) => (_matches ??= []).Add(match);

    /// <summary>Set by a rule set with response rules: its phases 3 and 4 for this request.</summary>
    internal IManagedResponseInspection? ResponseInspection { get; set; }

    internal string? ActionOf(string ruleId) => _overrides.Count != 0 && _overrides.TryGetValue(ruleId, out var ruleOverride) ? ruleOverride.Action : null;
}
