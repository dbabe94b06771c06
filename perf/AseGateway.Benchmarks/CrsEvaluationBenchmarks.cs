using System.Text;
using AseGateway.Configuration;
using AseGateway.Waf;
using AseGateway.Waf.Crs;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Benchmarks;

/// <summary>
/// Full WAF evaluation of one request with OWASP CRS v4 at paranoia level 1 in Prevention (anomaly scoring, as
/// configured in production): a simple GET, a urlencoded form POST of ten fields and a JSON POST of about 1 KB.
/// Body parsing is included; reading from the socket is not. The rules come from CRS_RULES, else the shared corpus
/// /work/shared/waf-corpora/crs-v4-rules.
/// </summary>
[MemoryDiagnoser]
public class CrsEvaluationBenchmarks
{
    private const string DefaultRulesPath = "/work/shared/waf-corpora/crs-v4-rules";

    private static readonly byte[] Form = Encoding.UTF8.GetBytes(
        "first_name=Alice&last_name=Martin&email=alice%40contoso.com&phone=%2B33+6+12+34+56+78&street=12+rue+de+la+Paix" +
        "&city=Paris&zip=75002&country=FR&newsletter=on&comment=Please+deliver+after+6pm%2C+thanks%21");

    private static readonly byte[] Json = Encoding.UTF8.GetBytes(JsonOrder());

    private WafPolicyModel _policy = null!;

    /// <summary>"compiled": the steady state, once the background compiler has compiled the patterns these requests
    /// run; "interpreted": the first requests after a load (each case runs in its own process).</summary>
    [Params("interpreted", "compiled")]
    public string Regexes { get; set; } = "compiled";

    private WafEngine _engine = null!;

    [GlobalSetup]
    public void Setup()
    {
        CrsRegexCache.CompileHotPatterns = Regexes == "compiled";
        var rules = Environment.GetEnvironmentVariable("CRS_RULES") ?? DefaultRulesPath;
        if (!Directory.Exists(rules) || Directory.GetFiles(rules, "REQUEST-*.conf", SearchOption.AllDirectories).Length == 0)
        {
            throw new DirectoryNotFoundException($"CRS v4 rules not found in '{rules}': set CRS_RULES to a CRS 4 directory (crs-setup.conf, rules/*.conf).");
        }

        var managed = new WafManagedRuleSetConfig { RuleSetType = "OWASP", RuleSetVersion = "4.x", RulesPath = rules, ParanoiaLevel = 1 };
        var policy = new WafPolicyConfig
        {
            Name = "bench",
            PolicySettings = new WafPolicySettingsConfig { Mode = WafMode.Prevention },
            ManagedRules = new WafManagedRulesConfig { ManagedRuleSets = [managed] },
        };
        var set = new CrsManagedRuleSetProvider().Create(managed, AppContext.BaseDirectory);
        _policy = WafPolicyModel.Compile(policy, [], new Dictionary<WafManagedRuleSetConfig, IManagedRuleSet> { [managed] = set });
        _engine = new WafEngine(new RateLimiter(TimeProvider.System), [], TimeProvider.System, NullLogger.Instance);

        // A benchmark of a WAF that blocks the clean requests, or lets an attack through, would measure the wrong work.
        if (SimpleGet().GetAwaiter().GetResult() || FormPost().GetAwaiter().GetResult() || JsonPost().GetAwaiter().GetResult())
        {
            throw new InvalidOperationException("CRS blocked a clean benchmark request: the figures would not be of the clean path.");
        }

        if (!Evaluate(BenchmarkRequests.Create("GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", null, null)).GetAwaiter().GetResult())
        {
            throw new InvalidOperationException("CRS did not block an XSS attack: the rule set is not loaded as configured.");
        }

        for (var i = 0; i < CrsRegex.CompileAfterUses; i++)
        {
            _ = SimpleGet().GetAwaiter().GetResult() | FormPost().GetAwaiter().GetResult() | JsonPost().GetAwaiter().GetResult();
        }

        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (CrsRegexCache.PendingCount > 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(100);
        }
    }

    [Benchmark(Baseline = true)]
    public Task<bool> SimpleGet() => Evaluate(BenchmarkRequests.Create("GET", "/api/products?category=shoes&page=2&sort=price", null, null));

    [Benchmark]
    public async Task<bool> FormPost()
    {
        var request = BenchmarkRequests.Create("POST", "/account/address", Form, "application/x-www-form-urlencoded");
        await BodyParser.ParseAsync(request, "application/x-www-form-urlencoded", truncated: false);
        return await Evaluate(request);
    }

    [Benchmark]
    public async Task<bool> JsonPost()
    {
        var request = BenchmarkRequests.Create("POST", "/api/orders", Json, "application/json");
        await BodyParser.ParseAsync(request, "application/json", truncated: false);
        return await Evaluate(request);
    }

    private async Task<bool> Evaluate(WafRequest request) => (await _engine.EvaluateAsync(_policy, "shop", request, CancellationToken.None)).Blocked;

    /// <summary>An order of six items with a shipping address: about 1 KB of JSON.</summary>
    private static string JsonOrder()
    {
        var items = new StringBuilder();
        for (var i = 0; i < 6; i++)
        {
            items.Append(i == 0 ? "" : ",").Append($$"""{"sku":"SKU-000{{i}}","name":"Trail running shoe model {{i}}","qty":{{i % 3 + 1}},"price":{{60 + i}}.90,"tags":["outdoor","sale"]}""");
        }

        return $$$"""{"order":{"id":4711,"currency":"EUR","items":[{{{items}}}],"shipping":{"name":"Alice Martin","street":"12 rue de la Paix","city":"Paris","zip":"75002","country":"FR"},"note":"Leave the parcel at the door, please."},"customer":{"id":"c-20931","email":"alice@contoso.com"}}""";
    }
}
