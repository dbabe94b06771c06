using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>
/// CRS's own regression suite (go-ftw YAML, CRS v4.28.0) replayed through a real gateway on loopback with the OWASP
/// managed rule set, detection only at paranoia level 4 as CRS's CI runs it. The printed table is the measurement;
/// the assertion is a floor that guards against regressions (raise it as the engine improves).
/// </summary>
public sealed class CrsRegressionTests(ITestOutputHelper output)
{
    /// <summary>Tests that passed when this floor was last raised (4847 of 5003 then; see the printed table for the current figure).</summary>
    private const int PassFloorV4 = 4870;

    private static readonly TimeSpan RunBudget = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task CrsV4_RegressionCorpus_PassesAtLeastTheRecordedFloor()
    {
        var tests = FtwCorpus.Load(SharedCorpora.Path("waf-corpora", "crs-v4-tests"));
        var overrides = FtwCorpus.LoadOverrides(RepoPaths.Combine("tests", "AseGateway.Tests", "Waf", "Crs", "crs-overrides.yaml"));
        Assert.True(tests.Count > 4000, $"only {tests.Count} tests read from the corpus");

        await using var backend = await TestBackend.StartAsync("b0");
        using var folder = new ConfigDirectory();
        var rules = CiRulesDirectory(folder.Path, SharedCorpora.Path("waf-corpora", "crs-v4-rules"));
        var json = Config(backend, rules, Path.Combine(folder.Path, "waf.log"), CorpusHosts(tests));
        await using var gateway = await TestGateway.StartAsync(json, output);
        var harness = new CrsRegressionHarness(new IPEndPoint(IPAddress.Loopback, gateway.Url.Port), gateway.Server.WafAuditLog!);

        var warmUp = Stopwatch.StartNew();
        await harness.WarmUpAsync();
        output.WriteLine($"warm-up request: {warmUp.Elapsed.TotalSeconds:0.0} s");
        var results = new List<FtwResult>();
        var clock = Stopwatch.StartNew();
        foreach (var test in tests)
        {
            Assert.True(clock.Elapsed < RunBudget, $"the corpus did not finish within {RunBudget} ({results.Count} of {tests.Count} run)");
            results.Add(await harness.RunAsync(test, overrides));
        }

        var table = CrsRegressionHarness.Report(results, out var passed);
        output.WriteLine(table);
        foreach (var failure in results.Where(r => !r.Passed && !r.Overridden))
        {
            output.WriteLine($"FAIL {failure.Test.File} #{failure.Test.TestId}: {failure.Detail}");
        }

        ReliabilityReport.Row(output, "CRS v4.28.0 regression (PL4, detection)", $"{passed}/{results.Count} tests passed in {clock.Elapsed.TotalSeconds:0} s", passed >= PassFloorV4);
        Assert.True(passed >= PassFloorV4, $"{passed} tests passed, below the recorded floor of {PassFloorV4}");
    }

    /// <summary>
    /// CRS as CRS's CI configures it (tests/docker-compose.yml): crs-setup.conf.example plus the limits its tests
    /// exercise (argument name and value lengths, argument count, total size, file sizes); the rules are the corpus's.
    /// </summary>
    private static string CiRulesDirectory(string folder, string corpusRules)
    {
        var directory = Directory.CreateDirectory(Path.Combine(folder, "crs")).FullName;
        File.WriteAllText(Path.Combine(directory, "crs-setup.conf"), File.ReadAllText(Path.Combine(corpusRules, "crs-setup.conf.example")) + """

            SecAction "id:900005,phase:1,pass,nolog,t:none,setvar:tx.arg_name_length=100,setvar:tx.arg_length=400,setvar:tx.max_num_args=255,setvar:tx.total_arg_length=64000,setvar:tx.max_file_size=1048576,setvar:tx.combined_file_sizes=1048576"

            """);
        Directory.CreateSymbolicLink(Path.Combine(directory, "rules"), corpusRules);
        return directory;
    }

    /// <summary>Every host name the corpus sends that a configuration may list, so the WAF'd app answers them all.</summary>
    private static List<string> CorpusHosts(List<FtwTest> tests)
    {
        var hosts = new SortedSet<string>(StringComparer.OrdinalIgnoreCase) { "localhost" };
        foreach (var stage in tests.SelectMany(t => t.Stages))
        {
            foreach (var (name, value) in stage.Headers)
            {
                var host = value.Split(':')[0].ToLowerInvariant();
                if (name.Equals("Host", StringComparison.OrdinalIgnoreCase) && Regex.IsMatch(host, "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$"))
                {
                    hosts.Add(host);
                }
            }
        }

        return [.. hosts];
    }

    private static string Config(TestBackend backend, string rulesPath, string auditPath, List<string> hosts)
    {
        var policy = $$"""
            { "name": "crs", "policySettings": { "mode": "Detection", "requestBodyCheck": true, "maxRequestBodySizeInKb": 1024, "requestBodyInspectLimitInKB": 1024 },
              "customRules": [ { "name": "{{CrsRegressionHarness.MarkerRule}}", "priority": 1, "ruleType": "MatchRule", "action": "Log",
                "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders", "selector": "{{CrsRegressionHarness.MarkerHeader}}" } ],
                  "operator": "Contains", "matchValues": [ "ftw" ] } ] } ],
              "managedRules": { "managedRuleSets": [ { "ruleSetType": "OWASP", "ruleSetVersion": "4.28", "rulesPath": {{JsonSerializer.Serialize(rulesPath)}}, "paranoiaLevel": 4 } ] } }
            """;
        return TestConfigs.Static([backend])
            .Replace($"\"hostNames\": [ \"{TestConfigs.AppHost}\" ]", $"\"hostNames\": [ {string.Join(", ", hosts.Select(h => $"\"{h}\""))} ]")
            .Replace("\"workerPools\":", $"\"wafPolicies\": [ {policy} ], \"defaultWafPolicy\": \"crs\", \"wafAuditLog\": {{ \"path\": {JsonSerializer.Serialize(auditPath)}, \"console\": false }}, \"workerPools\":");
    }
}
