using System.Text.Json;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using AseGateway.Waf.Crs;
using Xunit.Abstractions;
using static AseGateway.Tests.Infrastructure.ConfigChanges;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>Configuration reloads of a gateway whose WAF policy runs CRS from real rule files.</summary>
public sealed class CrsReloadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Reload_CrsUntouched_ReusesTheCompiledRules_BrokenRuleFile_RefusedWithFileAndLine_LastGoodKeepsServing()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        var rules = Directory.CreateDirectory(Path.Combine(folder.Path, "crs")).FullName;
        var ruleFile = Path.Combine(rules, "REQUEST-100-TEST.conf");
        File.WriteAllText(Path.Combine(rules, "crs-setup.conf"), "SecAction \"id:900990,phase:1,pass,nolog,setvar:tx.crs_setup_version=4280\"\n");
        File.WriteAllText(ruleFile, "SecRule ARGS \"@rx alpha\" \"id:100001,phase:2,pass,log,msg:'alpha'\"\n");
        var good = WithCrs(TestConfigs.Static(backends.List), rules);
        folder.WriteInPlace(good);
        var provider = new CrsManagedRuleSetProvider();
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output, managedRuleSetProviders: [provider]);
        Assert.Equal(1, provider.Compilations);

        var applied = NextGeneration(gateway, 2);
        folder.WriteInPlace(good.Replace("\"web.contoso.test\"", "\"web.contoso.test\", \"new.contoso.test\"", StringComparison.Ordinal));
        await applied.WaitAsync(Timeout);
        Assert.Equal("b0", await gateway.GetBodyAsync("new.contoso.test"));
        Assert.Equal(1, provider.Compilations);

        File.AppendAllText(ruleFile, "SecRule ARGS \"@bogus x\" \"id:100002,phase:2,pass\"\n");
        var refused = NextOutcome(gateway, ConfigChangeOutcome.Invalid);
        folder.WriteInPlace(good.Replace("\"web.contoso.test\"", "\"web.contoso.test\", \"other.contoso.test\"", StringComparison.Ordinal));
        await refused.WaitAsync(Timeout);

        var status = gateway.Server.Config.Status;
        Assert.Equal(2, status.Generation);
        Assert.Contains(status.LastError!.Errors, e => e.Message.Contains("REQUEST-100-TEST.conf:2: unsupported operator '@bogus'", StringComparison.Ordinal));
        Assert.Equal("b0", await gateway.GetBodyAsync("new.contoso.test"));
    }

    private static string WithCrs(string json, string rulesPath)
    {
        var policy = $$"""
            { "name": "crs", "policySettings": { "mode": "Detection" },
              "managedRules": { "managedRuleSets": [ { "ruleSetType": "OWASP", "ruleSetVersion": "4.28", "rulesPath": {{JsonSerializer.Serialize(rulesPath)}}, "paranoiaLevel": 1 } ] } }
            """;
        return json.Replace("\"workerPools\":", $"\"wafPolicies\": [ {policy} ], \"defaultWafPolicy\": \"crs\", \"workerPools\":", StringComparison.Ordinal);
    }
}
