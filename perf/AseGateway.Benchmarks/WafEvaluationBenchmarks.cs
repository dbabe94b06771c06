using System.Text;
using AseGateway.Configuration;
using AseGateway.Waf;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Benchmarks;

/// <summary>
/// Full WAF evaluation of one request with a realistic policy (three custom rules, a rate limit, the AseDefault
/// managed rule set): a clean GET, a form POST, a JSON POST, and the load generator's GET of perf/compare.sh (no
/// cookies: the usual verdict, nothing found). Body parsing is included; reading from the socket is not.
/// </summary>
[MemoryDiagnoser]
public class WafEvaluationBenchmarks
{
    private WafPolicyModel _policy = null!;
    private WafEngine _engine = null!;
    private readonly byte[] _form = Encoding.UTF8.GetBytes("user=alice&email=alice%40contoso.com&comment=Looks+good%2C+ship+it&qty=3");
    private readonly byte[] _json = Encoding.UTF8.GetBytes("""{"order":{"id":4711,"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"leave at the door"},"customer":"alice"}""");

    [GlobalSetup]
    public void Setup()
    {
        var policy = System.Text.Json.JsonSerializer.Deserialize(Encoding.UTF8.GetBytes("""
            { "wafPolicies": [ { "name": "bench", "policySettings": { "mode": "Prevention" },
              "customRules": [
                { "name": "blockEvilBot", "priority": 2, "ruleType": "MatchRule", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders", "selector": "User-Agent" } ], "operator": "Contains", "matchValues": [ "evilbot" ], "transforms": [ "Lowercase" ] } ] },
                { "name": "blockBadRange", "priority": 3, "ruleType": "MatchRule", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RemoteAddr" } ], "operator": "IPMatch", "matchValues": [ "198.51.100.0/24", "203.0.113.0/24" ] } ] },
                { "name": "adminOnlyFromOffice", "priority": 4, "ruleType": "MatchRule", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RequestUri" } ], "operator": "BeginsWith", "matchValues": [ "/admin" ] },
                                       { "matchVariables": [ { "variableName": "RemoteAddr" } ], "operator": "IPMatch", "negationCondition": true, "matchValues": [ "10.0.0.0/8" ] } ] },
                { "name": "throttle", "priority": 10, "ruleType": "RateLimitRule", "action": "Block", "rateLimitDuration": "OneMin", "rateLimitThreshold": 1000000,
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RequestUri" } ], "operator": "BeginsWith", "matchValues": [ "/api" ] } ] } ],
              "managedRules": { "managedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0" } ] } } ] }
            """), ConfigJsonContext.Default.GatewayConfig)!.WafPolicies![0];
        _policy = WafPolicyModel.Compile(policy, [new BuiltInManagedRuleSetProvider()]);
        _engine = new WafEngine(new RateLimiter(TimeProvider.System), [], TimeProvider.System, NullLogger.Instance);
    }

    [Benchmark(Baseline = true)]
    public async Task<bool> CleanGet() => (await _engine.EvaluateAsync(_policy, "shop", BenchmarkRequests.Create("GET", "/api/products?category=shoes&page=2&sort=price", null, null), CancellationToken.None)).Blocked;

    [Benchmark]
    public async Task<bool> LoadGeneratorGet() => (await _engine.EvaluateAsync(_policy, "shop", BenchmarkRequests.LoadGenerator(), CancellationToken.None)).Blocked;

    [Benchmark]
    public async Task<bool> FormPost()
    {
        var request = BenchmarkRequests.Create("POST", "/api/comments", _form, "application/x-www-form-urlencoded");
        await BodyParser.ParseAsync(request, "application/x-www-form-urlencoded", truncated: false);
        return (await _engine.EvaluateAsync(_policy, "shop", request, CancellationToken.None)).Blocked;
    }

    [Benchmark]
    public async Task<bool> JsonPost()
    {
        var request = BenchmarkRequests.Create("POST", "/api/orders", _json, "application/json");
        await BodyParser.ParseAsync(request, "application/json", truncated: false);
        return (await _engine.EvaluateAsync(_policy, "shop", request, CancellationToken.None)).Blocked;
    }
}
