using System.Text.Json.Serialization;

namespace AseGateway.Configuration;

// WAF policies in the shape of Azure Application Gateway WAF policies (ApplicationGatewayWebApplicationFirewallPolicy),
// so that a policy exported from Azure needs few edits to run here.

public sealed record WafPolicyConfig
{
    public string? Name { get; init; }

    public WafPolicySettingsConfig? PolicySettings { get; init; }

    public WafCustomRuleConfig[]? CustomRules { get; init; }

    public WafManagedRulesConfig? ManagedRules { get; init; }

    /// <summary>Other inspectors asked about each request after the rules: external HTTP services (in-process ones register through code).</summary>
    public WafHookConfig[]? Hooks { get; init; }
}

public sealed record WafPolicySettingsConfig
{
    public WafState? State { get; init; }

    /// <summary>Detection records matches; Prevention also blocks.</summary>
    public WafMode? Mode { get; init; }

    /// <summary>Inspect request bodies (default true).</summary>
    public bool? RequestBodyCheck { get; init; }

    /// <summary>Largest body accepted when enforcement is on (default 128).</summary>
    public int? MaxRequestBodySizeInKb { get; init; }

    /// <summary>How much of a body is inspected (default 128).</summary>
    public int? RequestBodyInspectLimitInKB { get; init; }

    /// <summary>Largest multipart file upload (default 100).</summary>
    public int? FileUploadLimitInMb { get; init; }

    /// <summary>Refuse (413) bodies over maxRequestBodySizeInKb (default true).</summary>
    public bool? RequestBodyEnforcement { get; init; }

    /// <summary>Refuse (413) uploads over fileUploadLimitInMb (default true).</summary>
    public bool? FileUploadEnforcement { get; init; }

    /// <summary>Status of a blocked request (default 403).</summary>
    public int? CustomBlockResponseStatusCode { get; init; }

    /// <summary>Body of a blocked request; "{transactionId}" is replaced by the request's correlation id.</summary>
    public string? CustomBlockResponseBody { get; init; }

    /// <summary>Anomaly score at which managed rules block (default 5: one critical match).</summary>
    public int? AnomalyScoreThreshold { get; init; }
}

[JsonConverter(typeof(StrictEnumConverter<WafState>))]
public enum WafState
{
    Enabled,
    Disabled,
}

[JsonConverter(typeof(StrictEnumConverter<WafMode>))]
public enum WafMode
{
    Detection,
    Prevention,
}

public sealed record WafCustomRuleConfig
{
    public string? Name { get; init; }

    /// <summary>1-100, unique; lower runs first.</summary>
    public int? Priority { get; init; }

    public WafRuleType? RuleType { get; init; }

    public WafState? State { get; init; }

    public WafAction? Action { get; init; }

    public WafMatchConditionConfig[]? MatchConditions { get; init; }

    /// <summary>RateLimitRule: OneMin or FiveMins.</summary>
    public WafRateLimitDuration? RateLimitDuration { get; init; }

    /// <summary>RateLimitRule: requests allowed per duration and group.</summary>
    public int? RateLimitThreshold { get; init; }

    /// <summary>RateLimitRule: how requests are grouped (ClientAddr, or None for one shared counter).</summary>
    public WafGroupByConfig[]? GroupByUserSession { get; init; }
}

[JsonConverter(typeof(StrictEnumConverter<WafRuleType>))]
public enum WafRuleType
{
    MatchRule,
    RateLimitRule,
}

[JsonConverter(typeof(StrictEnumConverter<WafAction>))]
public enum WafAction
{
    Allow,
    Block,
    Log,
}

[JsonConverter(typeof(StrictEnumConverter<WafRateLimitDuration>))]
public enum WafRateLimitDuration
{
    OneMin,
    FiveMins,
}

public sealed record WafGroupByConfig
{
    public WafGroupByVariableConfig[]? GroupByVariables { get; init; }
}

public sealed record WafGroupByVariableConfig
{
    /// <summary>ClientAddr or None.</summary>
    public string? VariableName { get; init; }
}

public sealed record WafMatchConditionConfig
{
    public WafMatchVariableConfig[]? MatchVariables { get; init; }

    public string? Operator { get; init; }

    public bool? NegationCondition { get; init; }

    /// <summary>Azure's REST API spells it this way; both spellings are accepted.</summary>
    public bool? NegationConditon { get; init; }

    public string[]? MatchValues { get; init; }

    public string[]? Transforms { get; init; }
}

public sealed record WafMatchVariableConfig
{
    public string? VariableName { get; init; }

    public string? Selector { get; init; }
}

public sealed record WafManagedRulesConfig
{
    public WafManagedRuleSetConfig[]? ManagedRuleSets { get; init; }

    public WafExclusionConfig[]? Exclusions { get; init; }
}

public sealed record WafManagedRuleSetConfig
{
    public string? RuleSetType { get; init; }

    public string? RuleSetVersion { get; init; }

    /// <summary>OWASP only: the CRS directory (crs-setup.conf plus rules/*.conf and *.data), relative to the config file.</summary>
    public string? RulesPath { get; init; }

    /// <summary>OWASP only: CRS blocking paranoia level 1-4 (default 1).</summary>
    public int? ParanoiaLevel { get; init; }

    /// <summary>OWASP only: CRS inbound anomaly score threshold (default: CRS's own, 5).</summary>
    public int? InboundAnomalyScoreThreshold { get; init; }

    /// <summary>OWASP only: CRS outbound (response) anomaly score threshold (default: CRS's own, 4).</summary>
    public int? OutboundAnomalyScoreThreshold { get; init; }

    public WafRuleGroupOverrideConfig[]? RuleGroupOverrides { get; init; }
}

public sealed record WafRuleGroupOverrideConfig
{
    public string? RuleGroupName { get; init; }

    public WafRuleOverrideConfig[]? Rules { get; init; }
}

public sealed record WafRuleOverrideConfig
{
    public string? RuleId { get; init; }

    public WafState? State { get; init; }

    /// <summary>AnomalyScoring (the default), Block, Log or Allow.</summary>
    public string? Action { get; init; }
}

public sealed record WafExclusionConfig
{
    /// <summary>RequestHeaderNames/Values, RequestCookieNames/Values, RequestArgNames/Values (Azure's names).</summary>
    public string? MatchVariable { get; init; }

    /// <summary>Equals, StartsWith, EndsWith, Contains or EqualsAny.</summary>
    public string? SelectorMatchOperator { get; init; }

    public string? Selector { get; init; }

    /// <summary>Limit the exclusion to rule sets, groups or rules; absent: every managed rule.</summary>
    public WafExclusionScopeConfig[]? ExclusionManagedRuleSets { get; init; }
}

public sealed record WafExclusionScopeConfig
{
    public string? RuleSetType { get; init; }

    public string? RuleSetVersion { get; init; }

    public WafExclusionGroupConfig[]? RuleGroups { get; init; }
}

public sealed record WafExclusionGroupConfig
{
    public string? RuleGroupName { get; init; }

    public string[]? RuleIds { get; init; }
}

public sealed record WafHookConfig
{
    public string? Name { get; init; }

    /// <summary>An http(s) URL that receives the request's metadata as JSON and answers 200 (allow) or 403 (block).</summary>
    public string? Url { get; init; }

    public int? TimeoutMs { get; init; }

    /// <summary>What happens when the hook fails or times out: Allow (fail open, default) or Block (fail closed).</summary>
    public WafAction? OnError { get; init; }

    /// <summary>At most this many calls in flight to the hook (default 64); beyond that, onError applies.</summary>
    public int? MaxConcurrency { get; init; }

    /// <summary>Send the first N KB of the body too (default 0).</summary>
    public int? IncludeBodyKb { get; init; }
}
