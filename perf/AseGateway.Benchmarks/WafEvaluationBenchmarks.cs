using System.Text;
using AseGateway.Configuration;
using AseGateway.Waf;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Benchmarks;

/// <summary>
/// Full WAF evaluation of one request with the policy of compare.sh's ase-full target (perf/waf-policy.json: three
/// custom rules, a rate limit, the AseDefault managed rule set): a clean GET, a form POST, a JSON POST, and the load
/// generator's GET of perf/compare.sh (no cookies: the usual verdict, nothing found), and a browser's page request with
/// the 14 header fields of compare.sh's --browser-headers. Body parsing is included; reading from the socket is not.
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
        var policy = System.Text.Json.JsonSerializer.Deserialize(Encoding.UTF8.GetBytes($$"""{ "wafPolicies": [ {{EdgePolicy()}} ] }"""), ConfigJsonContext.Default.GatewayConfig)!.WafPolicies![0];
        _policy = WafPolicyModel.Compile(policy, [new BuiltInManagedRuleSetProvider()]);
        _engine = new WafEngine(new RateLimiter(TimeProvider.System), [], TimeProvider.System, NullLogger.Instance);
    }

    /// <summary>perf/waf-policy.json, the policy compare.sh's ase-full target runs, with its reload mark set to 0.</summary>
    private static string EdgePolicy()
    {
        using var stream = typeof(WafEvaluationBenchmarks).Assembly.GetManifestResourceStream("waf-policy.json")
            ?? throw new InvalidOperationException("waf-policy.json is not embedded in the benchmark assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("evilbot-MARK", "evilbot-0", StringComparison.Ordinal);
    }

    [Benchmark(Baseline = true)]
    public async Task<bool> CleanGet() => (await _engine.EvaluateAsync(_policy, "shop", BenchmarkRequests.Create("GET", "/api/products?category=shoes&page=2&sort=price", null, null), CancellationToken.None)).Blocked;

    [Benchmark]
    public async Task<bool> LoadGeneratorGet() => (await _engine.EvaluateAsync(_policy, "shop", BenchmarkRequests.LoadGenerator(), CancellationToken.None)).Blocked;

    [Benchmark]
    public async Task<bool> BrowserPageGet() => (await _engine.EvaluateAsync(_policy, "shop", BenchmarkRequests.BrowserPage(), CancellationToken.None)).Blocked;

    /// <summary>What <see cref="BrowserPageGet"/> spends on building its request, to tell the WAF's part from it.</summary>
    [Benchmark]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "BenchmarkDotNet runs instance methods.")]
    public object BrowserPageBuildOnly() => BenchmarkRequests.BrowserPage();

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
