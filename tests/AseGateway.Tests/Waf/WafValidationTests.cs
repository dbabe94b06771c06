using System.Text;
using AseGateway.Configuration;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Waf;

public sealed class WafValidationTests
{
    [Fact]
    public void BadPolicies_EveryErrorWithItsPath()
    {
        var json = TestConfigs.Static([]).Replace("\"instanceCount\": 0 ", "\"instanceCount\": 1 ").Replace("\"workerPools\":", """
            "wafPolicies": [ { "name": "p",
              "policySettings": { "maxRequestBodySizeInKb": 1, "customBlockResponseStatusCode": 99 },
              "customRules": [
                { "name": "a", "priority": 0, "ruleType": "MatchRule", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders" } ], "operator": "Regex", "matchValues": [ "(unclosed" ] } ] },
                { "name": "b", "priority": 5, "ruleType": "MatchRule", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "Nope" } ], "operator": "Within", "matchValues": [ "x" ], "transforms": [ "Rot13" ] } ] },
                { "name": "c", "priority": 5, "ruleType": "RateLimitRule", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RemoteAddr" } ], "operator": "IPMatch", "matchValues": [ "10.0.0.0/33" ] } ] },
                { "name": "d", "priority": 6, "ruleType": "MatchRule", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RemoteAddr" } ], "operator": "GeoMatch", "matchValues": [ "US" ] } ] } ],
              "managedRules": { "managedRuleSets": [ { "ruleSetType": "OWASP", "ruleSetVersion": "3.2" } ],
                "exclusions": [ { "matchVariable": "RequestBodyPostArgNames", "selectorMatchOperator": "Like", "selector": "x" } ] },
              "hooks": [ { "name": "h", "url": "ftp://x", "timeoutMs": 0 } ] } ],
            "defaultWafPolicy": "missing",
            "workerPools":
            """);
        var errors = ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "t", AppContext.BaseDirectory).Errors.Select(e => e.ToString()).ToList();

        Assert.Contains("wafPolicies[0].policySettings.maxRequestBodySizeInKb: must be between 8 and 2048, not 1", errors);
        Assert.Contains("wafPolicies[0].policySettings.customBlockResponseStatusCode: must be between 200 and 599, not 99", errors);
        Assert.Contains("wafPolicies[0].customRules[0].priority: must be between 1 and 100, not 0", errors);
        Assert.Contains("wafPolicies[0].customRules[0].matchConditions[0].matchVariables[0].selector: RequestHeaders needs a selector (the header name)", errors);
        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].customRules[0].matchConditions[0].matchValues[0]: '(unclosed' is not a valid regular expression", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].customRules[1].matchConditions[0].matchVariables[0].variableName: unknown match variable 'Nope'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].customRules[1].matchConditions[0].operator: unknown operator 'Within'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].customRules[1].matchConditions[0].transforms[0]: unknown transform 'Rot13'", StringComparison.Ordinal));
        Assert.Contains("wafPolicies[0].customRules[2].priority: 5 is already the priority of wafPolicies[0].customRules[1]: priorities are unique", errors);
        Assert.Contains("wafPolicies[0].customRules[2].rateLimitThreshold: a rate-limit rule needs a threshold of at least 1", errors);
        Assert.Contains("wafPolicies[0].customRules[2].matchConditions[0].matchValues[0]: '10.0.0.0/33' is not an IP address or CIDR prefix", errors);
        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].customRules[3].matchConditions[0].operator: GeoMatch needs a geo-IP database", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].managedRules.exclusions[0].matchVariable: unknown exclusion variable", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].managedRules.exclusions[0].selectorMatchOperator: unknown operator 'Like'", StringComparison.Ordinal));
        Assert.Contains("wafPolicies[0].hooks[0].url: 'ftp://x' is not an absolute http:// or https:// URL", errors);
        Assert.Contains("wafPolicies[0].hooks[0].timeoutMs: must be between 1 and 60000, not 0", errors);
        Assert.Contains("defaultWafPolicy: there is no WAF policy named 'missing'", errors);
    }

    [Fact]
    public void UnknownManagedRuleSet_OrRule_IsACompileErrorWithItsPath()
    {
        var json = Instances.ProcessInstanceTests.Config(1).Replace("\"workerPools\":", """
            "wafPolicies": [ { "name": "p", "managedRules": { "managedRuleSets": [
              { "ruleSetType": "OWASP", "ruleSetVersion": "3.2" },
              { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0", "ruleGroupOverrides": [ { "ruleGroupName": "SQLI", "rules": [ { "ruleId": "999999", "state": "Disabled" } ] } ] } ] } } ],
            "workerPools":
            """);
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "t", AppContext.BaseDirectory);
        Assert.True(loaded.IsValid, string.Join("; ", loaded.Errors));

        var error = Assert.Throws<AseGateway.Hosting.GatewayConfigurationException>(() => AseGateway.Model.SnapshotCompiler.Compile(loaded, 1, DateTimeOffset.UtcNow));
        var errors = error.Errors.Select(e => e.ToString()).ToList();

        Assert.Contains(errors, e => e.StartsWith("wafPolicies[0].managedRules.managedRuleSets[0]: no managed rule set 'OWASP' version '3.2'", StringComparison.Ordinal));
        Assert.Contains("wafPolicies[0].managedRules.managedRuleSets[1].ruleGroupOverrides[0].rules[0].ruleId: rule '999999' is not in AseDefault 1.0", errors);
    }

    /// <summary>perf/waf-policy.json, the ase-full target's policy that the benchmarks evaluate too, stays a valid one.</summary>
    [Fact]
    public void PerfWafPolicy_LoadsAndCompiles()
    {
        var policy = File.ReadAllText(RepoPaths.Combine("perf", "waf-policy.json")).Replace("evilbot-MARK", "evilbot-0", StringComparison.Ordinal);
        var json = Instances.ProcessInstanceTests.Config(1).Replace("\"workerPools\":", $"\"wafPolicies\": [ {policy} ], \"workerPools\":");
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "t", AppContext.BaseDirectory);
        Assert.True(loaded.IsValid, string.Join("; ", loaded.Errors));

        var snapshot = AseGateway.Model.SnapshotCompiler.Compile(loaded, 1, DateTimeOffset.UtcNow);

        Assert.Equal("edge", Assert.Single(snapshot.Config.WafPolicies!).Name);
    }
}
