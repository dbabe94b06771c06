using AseGateway.Waf;

namespace AseGateway.Configuration;

/// <summary>Validation of WAF policies: names, priorities, variables, operators, transforms, regexes, hooks.</summary>
internal static class WafValidator
{
    public static void Validate(GatewayConfig config, List<ConfigError> errors)
    {
        var policies = config.WafPolicies ?? [];
        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var p = 0; p < policies.Length; p++)
        {
            var path = $"wafPolicies[{p}]";
            var policy = policies[p];
            if (policy is null)
            {
                errors.Add(new(path, "a WAF policy cannot be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(policy.Name))
            {
                errors.Add(new($"{path}.name", "a WAF policy needs a name"));
            }
            else if (!names.TryAdd(policy.Name, p))
            {
                errors.Add(new($"{path}.name", $"'{policy.Name}' is already the name of wafPolicies[{names[policy.Name]}]"));
            }

            ValidateSettings(policy.PolicySettings, $"{path}.policySettings", errors);
            ValidateCustomRules(policy.CustomRules ?? [], $"{path}.customRules", errors);
            ValidateManaged(policy.ManagedRules, $"{path}.managedRules", errors);
            ValidateHooks(policy.Hooks ?? [], $"{path}.hooks", errors);
        }

        if (config.DefaultWafPolicy is { } defaultPolicy && !names.ContainsKey(defaultPolicy))
        {
            errors.Add(new("defaultWafPolicy", $"there is no WAF policy named '{defaultPolicy}'"));
        }

        var apps = config.Apps ?? [];
        for (var a = 0; a < apps.Length; a++)
        {
            if (apps[a]?.WafPolicy is { } name && !names.ContainsKey(name))
            {
                errors.Add(new($"apps[{a}].wafPolicy", $"there is no WAF policy named '{name}'"));
            }
        }

        if (config.WafAuditLog is { } audit)
        {
            ConfigValidator.CheckRange(audit.MaxFileSizeInMb, 1, 10_240, "wafAuditLog.maxFileSizeInMb", errors);
            ConfigValidator.CheckRange(audit.MaxFiles, 1, 1000, "wafAuditLog.maxFiles", errors);
        }
    }

    private static void ValidateSettings(WafPolicySettingsConfig? settings, string path, List<ConfigError> errors)
    {
        if (settings is null)
        {
            return;
        }

        ConfigValidator.CheckRange(settings.MaxRequestBodySizeInKb, 8, 2048, $"{path}.maxRequestBodySizeInKb", errors);
        ConfigValidator.CheckRange(settings.RequestBodyInspectLimitInKB, 8, 2048, $"{path}.requestBodyInspectLimitInKB", errors);
        ConfigValidator.CheckRange(settings.FileUploadLimitInMb, 1, 4000, $"{path}.fileUploadLimitInMb", errors);
        ConfigValidator.CheckRange(settings.CustomBlockResponseStatusCode, 200, 599, $"{path}.customBlockResponseStatusCode", errors);
        ConfigValidator.CheckRange(settings.AnomalyScoreThreshold, 1, 1000, $"{path}.anomalyScoreThreshold", errors);
    }

    private static void ValidateCustomRules(WafCustomRuleConfig[] rules, string path, List<ConfigError> errors)
    {
        var priorities = new Dictionary<int, int>();
        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var r = 0; r < rules.Length; r++)
        {
            var rulePath = $"{path}[{r}]";
            var rule = rules[r];
            if (rule is null)
            {
                errors.Add(new(rulePath, "a rule cannot be null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(rule.Name))
            {
                errors.Add(new($"{rulePath}.name", "a rule needs a name"));
            }
            else if (!names.TryAdd(rule.Name, r))
            {
                errors.Add(new($"{rulePath}.name", $"'{rule.Name}' is already the name of {path}[{names[rule.Name]}]"));
            }

            if (rule.Priority is not { } priority || priority < 1 || priority > 100)
            {
                errors.Add(new($"{rulePath}.priority", $"must be between 1 and 100, not {rule.Priority?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing"}"));
            }
            else if (!priorities.TryAdd(priority, r))
            {
                errors.Add(new($"{rulePath}.priority", $"{priority} is already the priority of {path}[{priorities[priority]}]: priorities are unique"));
            }

            if (rule.RuleType is null)
            {
                errors.Add(new($"{rulePath}.ruleType", "a rule needs a ruleType: MatchRule or RateLimitRule"));
            }

            if (rule.Action is null)
            {
                errors.Add(new($"{rulePath}.action", "a rule needs an action: Allow, Block or Log"));
            }

            if (rule.RuleType == WafRuleType.RateLimitRule)
            {
                if (rule.RateLimitThreshold is not >= 1)
                {
                    errors.Add(new($"{rulePath}.rateLimitThreshold", "a rate-limit rule needs a threshold of at least 1"));
                }

                if (rule.RateLimitDuration is null)
                {
                    errors.Add(new($"{rulePath}.rateLimitDuration", "a rate-limit rule needs a duration: OneMin or FiveMins"));
                }

                var groups = rule.GroupByUserSession ?? [];
                for (var g = 0; g < groups.Length; g++)
                {
                    // The compiler reads every group: a null one is refused here (found by the config fuzzer).
                    if (groups[g] is null)
                    {
                        errors.Add(new($"{rulePath}.groupByUserSession[{g}]", "a group cannot be null"));
                        continue;
                    }

                    foreach (var variable in groups[g].GroupByVariables ?? [])
                    {
                        if (!string.Equals(variable?.VariableName, "ClientAddr", StringComparison.OrdinalIgnoreCase) && !string.Equals(variable?.VariableName, "None", StringComparison.OrdinalIgnoreCase))
                        {
                            errors.Add(new($"{rulePath}.groupByUserSession", $"'{variable?.VariableName}' cannot group requests: use ClientAddr or None"));
                        }
                    }
                }
            }

            var conditions = rule.MatchConditions ?? [];
            if (conditions.Length == 0)
            {
                errors.Add(new($"{rulePath}.matchConditions", "a rule needs at least one match condition"));
            }

            for (var c = 0; c < conditions.Length; c++)
            {
                if (conditions[c] is null)
                {
                    errors.Add(new($"{rulePath}.matchConditions[{c}]", "a condition cannot be null"));
                    continue;
                }

                ValidateCondition(conditions[c], $"{rulePath}.matchConditions[{c}]", errors);
            }
        }
    }

    private static void ValidateCondition(WafMatchConditionConfig condition, string path, List<ConfigError> errors)
    {
        var variables = condition.MatchVariables ?? [];
        if (variables.Length == 0)
        {
            errors.Add(new($"{path}.matchVariables", "a condition needs at least one match variable"));
        }

        for (var v = 0; v < variables.Length; v++)
        {
            if (variables[v]?.VariableName is not { } name || !WafNames.Variables.TryGetValue(name, out var variable))
            {
                errors.Add(new($"{path}.matchVariables[{v}].variableName", $"unknown match variable '{variables[v]?.VariableName}': use {string.Join(", ", Enum.GetNames<WafVariable>())}"));
            }
            else if (variable == WafVariable.RequestHeaders && string.IsNullOrEmpty(variables[v].Selector))
            {
                errors.Add(new($"{path}.matchVariables[{v}].selector", "RequestHeaders needs a selector (the header name)"));
            }
        }

        if (condition.NegationCondition is { } a && condition.NegationConditon is { } b && a != b)
        {
            errors.Add(new($"{path}.negationCondition", "negationCondition and negationConditon disagree"));
        }

        var values = condition.MatchValues ?? [];
        if (condition.Operator is not { } op || !WafNames.Operators.TryGetValue(op, out var parsed))
        {
            errors.Add(new($"{path}.operator", $"unknown operator '{condition.Operator}': use {string.Join(", ", Enum.GetNames<WafOperator>())}"));
        }
        else if (parsed == WafOperator.GeoMatch)
        {
            errors.Add(new($"{path}.operator", "GeoMatch needs a geo-IP database, which this gateway does not have: match on RemoteAddr with IPMatch instead"));
        }
        else
        {
            if (parsed != WafOperator.Any && values.Length == 0)
            {
                errors.Add(new($"{path}.matchValues", $"the {parsed} operator needs at least one match value"));
            }

            for (var i = 0; i < values.Length; i++)
            {
                if (values[i] is null)
                {
                    errors.Add(new($"{path}.matchValues[{i}]", "a match value cannot be null"));
                    continue;
                }

                var problem = parsed switch
                {
                    WafOperator.Regex => WafRegex.Check(values[i]) is { } message ? $"'{values[i]}' is not a valid regular expression: {message}" : null,
                    WafOperator.IPMatch => NetworkParsing.TryParsePrefix(values[i], out _) ? null : $"'{values[i]}' is not an IP address or CIDR prefix",
                    WafOperator.LessThan or WafOperator.GreaterThan or WafOperator.LessThanOrEqual or WafOperator.GreaterThanOrEqual
                        => double.TryParse(values[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _) ? null : $"'{values[i]}' is not a number",
                    _ => null,
                };
                if (problem is not null)
                {
                    errors.Add(new($"{path}.matchValues[{i}]", problem));
                }
            }
        }

        var transforms = condition.Transforms ?? [];
        for (var t = 0; t < transforms.Length; t++)
        {
            if (!WafNames.Transforms.ContainsKey(transforms[t] ?? string.Empty))
            {
                errors.Add(new($"{path}.transforms[{t}]", $"unknown transform '{transforms[t]}': use {string.Join(", ", Enum.GetNames<WafTransform>())}"));
            }
        }
    }

    /// <summary>CRS settings belong to OWASP sets only; CRS 4 has no distribution package, so it needs rulesPath.</summary>
    private static void ValidateOwasp(WafManagedRuleSetConfig? set, string path, List<ConfigError> errors)
    {
        if (set is null)
        {
            return;
        }

        var owasp = string.Equals(set.RuleSetType, "OWASP", StringComparison.OrdinalIgnoreCase);
        if (!owasp && (set.RulesPath is not null || set.ParanoiaLevel is not null || set.InboundAnomalyScoreThreshold is not null || set.OutboundAnomalyScoreThreshold is not null))
        {
            errors.Add(new($"{path}", "rulesPath, paranoiaLevel, inboundAnomalyScoreThreshold and outboundAnomalyScoreThreshold apply to ruleSetType OWASP only"));
        }

        if (owasp && set.RulesPath is null && set.RuleSetVersion?.StartsWith('4') == true)
        {
            errors.Add(new($"{path}.rulesPath", "OWASP CRS 4 needs rulesPath (a CRS 4 checkout); only CRS 3.3 has a default (the modsecurity-crs package)"));
        }

        if (set.ParanoiaLevel is { } level && level is < 1 or > 4)
        {
            errors.Add(new($"{path}.paranoiaLevel", $"paranoia level {level} is not 1-4"));
        }

        if (set.InboundAnomalyScoreThreshold is { } threshold && threshold < 1)
        {
            errors.Add(new($"{path}.inboundAnomalyScoreThreshold", $"threshold {threshold} must be at least 1"));
        }

        if (set.OutboundAnomalyScoreThreshold is { } outbound && outbound < 1)
        {
            errors.Add(new($"{path}.outboundAnomalyScoreThreshold", $"threshold {outbound} must be at least 1"));
        }
    }

    private static void ValidateManaged(WafManagedRulesConfig? managed, string path, List<ConfigError> errors)
    {
        var sets = managed?.ManagedRuleSets ?? [];
        for (var s = 0; s < sets.Length; s++)
        {
            if (string.IsNullOrWhiteSpace(sets[s]?.RuleSetType) || string.IsNullOrWhiteSpace(sets[s]?.RuleSetVersion))
            {
                errors.Add(new($"{path}.managedRuleSets[{s}]", "a managed rule set needs ruleSetType and ruleSetVersion"));
            }

            ValidateOwasp(sets[s], $"{path}.managedRuleSets[{s}]", errors);

            foreach (var group in sets[s]?.RuleGroupOverrides ?? [])
            {
                if (group is null)
                {
                    errors.Add(new($"{path}.managedRuleSets[{s}].ruleGroupOverrides", "an override group cannot be null"));
                    continue;
                }

                foreach (var rule in group.Rules ?? [])
                {
                    if (rule is null)
                    {
                        errors.Add(new($"{path}.managedRuleSets[{s}].ruleGroupOverrides", "a rule override cannot be null"));
                        continue;
                    }

                    if (rule.Action is { } action && action is not ("AnomalyScoring" or "Block" or "Log" or "Allow"))
                    {
                        errors.Add(new($"{path}.managedRuleSets[{s}].ruleGroupOverrides", $"rule {rule.RuleId}: unknown action '{action}': use AnomalyScoring, Block, Log or Allow"));
                    }
                }
            }
        }

        var exclusions = managed?.Exclusions ?? [];
        for (var e = 0; e < exclusions.Length; e++)
        {
            var exclusion = exclusions[e];
            if (exclusion?.MatchVariable is not { } variable || !WafExclusion.Variables.ContainsKey(variable))
            {
                errors.Add(new($"{path}.exclusions[{e}].matchVariable", $"unknown exclusion variable '{exclusion?.MatchVariable}': use {string.Join(", ", WafExclusion.Variables.Keys)}"));
            }

            if (exclusion?.SelectorMatchOperator is { } op && !WafExclusion.Operators.Contains(op))
            {
                errors.Add(new($"{path}.exclusions[{e}].selectorMatchOperator", $"unknown operator '{op}': use {string.Join(", ", WafExclusion.Operators)}"));
            }

            if (exclusion?.SelectorMatchOperator != "EqualsAny" && string.IsNullOrEmpty(exclusion?.Selector))
            {
                errors.Add(new($"{path}.exclusions[{e}].selector", "an exclusion needs a selector (or the EqualsAny operator)"));
            }
        }
    }

    private static void ValidateHooks(WafHookConfig[] hooks, string path, List<ConfigError> errors)
    {
        for (var h = 0; h < hooks.Length; h++)
        {
            var hookPath = $"{path}[{h}]";
            var hook = hooks[h];
            if (string.IsNullOrWhiteSpace(hook?.Name))
            {
                errors.Add(new($"{hookPath}.name", "a hook needs a name"));
            }

            if (!Uri.TryCreate(hook?.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add(new($"{hookPath}.url", $"'{hook?.Url}' is not an absolute http:// or https:// URL"));
            }

            ConfigValidator.CheckRange(hook?.TimeoutMs, 1, 60_000, $"{hookPath}.timeoutMs", errors);
            ConfigValidator.CheckRange(hook?.MaxConcurrency, 1, 100_000, $"{hookPath}.maxConcurrency", errors);
            ConfigValidator.CheckRange(hook?.IncludeBodyKb, 0, 1024, $"{hookPath}.includeBodyKb", errors);
            if (hook?.OnError is WafAction.Log)
            {
                errors.Add(new($"{hookPath}.onError", "onError is Allow (fail open) or Block (fail closed)"));
            }
        }
    }
}
