using System.Net;
using System.Text.Json;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>The OWASP managed rule set in the gateway's WAF pipeline: Prevention blocks at CRS's threshold, clean traffic passes.</summary>
public sealed class CrsPipelineTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Prevention_CrsV4AtParanoia1_BlocksXssWith403_PassesCleanRequests()
    {
        await using var backends = await Backends.StartAsync(1);
        var policy = $$"""
            { "name": "p", "policySettings": { "mode": "Prevention" },
              "managedRules": { "managedRuleSets": [ { "ruleSetType": "OWASP", "ruleSetVersion": "4.x",
                "rulesPath": {{JsonSerializer.Serialize(SharedCorpora.Path("waf-corpora", "crs-v4-rules"))}}, "paranoiaLevel": 1 } ] } }
            """;
        var json = TestConfigs.Static(backends.List).Replace("\"workerPools\":", $"\"wafPolicies\": [ {policy} ], \"defaultWafPolicy\": \"p\", \"workerPools\":");
        await using var gateway = await TestGateway.StartAsync(json, output);

        using var attack = await gateway.GetAsync(TestConfigs.AppHost, "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", r => r.Headers.Add("User-Agent", "Mozilla/5.0"));
        using var clean = await gateway.GetAsync(TestConfigs.AppHost, "/search?q=blue+shoes", r =>
        {
            r.Headers.Add("User-Agent", "Mozilla/5.0");
            r.Headers.Add("Accept", "text/html");
        });

        Assert.Equal(HttpStatusCode.Forbidden, attack.StatusCode);
        Assert.Equal(HttpStatusCode.OK, clean.StatusCode);
        Assert.Equal(1, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task Config_RuleFileError_IsAConfigErrorNamingFileAndLine()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        var rules = Directory.CreateDirectory(Path.Combine(folder.Path, "crs")).FullName;
        File.WriteAllText(Path.Combine(rules, "crs-setup.conf"), "SecAction \"id:900990,phase:1,pass,nolog\"\n");
        File.WriteAllText(Path.Combine(rules, "REQUEST-100-TEST.conf"), "# comment\nSecRule ARGS \"@rx a\" \"id:100,phase:2,pass,frobnicate\"\n");
        var policy = $$"""
            { "name": "p", "managedRules": { "managedRuleSets": [ { "ruleSetType": "OWASP", "ruleSetVersion": "4.x", "rulesPath": {{JsonSerializer.Serialize(rules)}} } ] } }
            """;
        var json = TestConfigs.Static(backends.List).Replace("\"workerPools\":", $"\"wafPolicies\": [ {policy} ], \"defaultWafPolicy\": \"p\", \"workerPools\":");
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);
        var loaded = new AseGateway.Control.InMemoryConfigSource(bytes, "test", folder.Path).Load(bytes);
        var errors = new List<AseGateway.Configuration.ConfigError>();

        Assert.Null(AseGateway.Model.SnapshotCompiler.TryCompile(loaded, 1, DateTimeOffset.UtcNow, errors, []));
        var error = Assert.Single(errors);
        Assert.Equal("wafPolicies[0].managedRules.managedRuleSets[0]", error.Path);
        Assert.Contains("REQUEST-100-TEST.conf:2: unsupported action 'frobnicate'", error.Message, StringComparison.Ordinal);
    }
}
