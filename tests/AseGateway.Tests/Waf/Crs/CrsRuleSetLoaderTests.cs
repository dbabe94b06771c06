using AseGateway.Tests.Infrastructure;
using AseGateway.Waf.Crs;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>Loading SecLang: the whole of CRS v4 compiles, and anything unsupported names its file and line.</summary>
public sealed class CrsRuleSetLoaderTests
{
    [Fact]
    public void Load_CrsV4_CompilesEveryRuleInEveryPhase()
    {
        var program = CrsTestRules.LoadV4(paranoiaLevel: 4);

        // RULE-PARANOIA-LEVELS.tsv lists every rule id of the corpus (629); the setup files add their own.
        var listed = File.ReadAllLines(Path.Combine(SharedCorpora.Path("waf-corpora", "crs-v4-rules"), "RULE-PARANOIA-LEVELS.tsv")).Skip(1).Count(l => l.Length > 0);
        Assert.True(program.RuleCount >= listed, $"{program.RuleCount} rules loaded, the corpus lists {listed}");
        Assert.Contains("OWASP_CRS/4.28.0", program.Signatures);
        Assert.Contains(program.Phases[2], r => r.Id == 949110);
        Assert.Contains(program.Phases[1], r => r.Id == 901001);
    }

    [Fact]
    public void Load_DebianPackageLayout_ReadsSetupFromEtcAndRulesFromUsrShare()
    {
        const string PackageRules = "/usr/share/modsecurity-crs";
        Assert.True(File.Exists(Path.Combine(PackageRules, CrsRuleSetLoader.PackageLoadFile)), "Debian's modsecurity-crs package is not installed (.ci/run installs it)");

        var files = CrsRuleSetLoader.RuleFiles(PackageRules);
        var program = CrsRuleSetLoader.Load(new CrsLoadOptions(PackageRules, 4));

        Assert.Equal("/etc/modsecurity/crs/crs-setup.conf", files[0]);
        Assert.Contains(files, f => f.EndsWith("/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf", StringComparison.Ordinal));
        Assert.Contains(program.Phases[1], r => r.Id == 900990);
        Assert.Contains(program.Phases[2], r => r.Id == 949110);
        Assert.Contains(program.Signatures, s => s.StartsWith("OWASP_CRS/3.3", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_PackageLoadFile_IncludeOfAMissingFileIsAnErrorButIncludeOptionalIsNot()
    {
        using var folder = new ConfigDirectory();
        File.WriteAllText(Path.Combine(folder.Path, "crs-setup.conf"), "SecAction \"id:900990,phase:1,pass,nolog,setvar:tx.crs_setup_version=334\"\n");
        File.WriteAllText(Path.Combine(folder.Path, CrsRuleSetLoader.PackageLoadFile), $"Include {folder.Path}/crs-setup.conf\nIncludeOptional {folder.Path}/absent/*.conf\n");
        Assert.Single(CrsRuleSetLoader.RuleFiles(folder.Path));

        File.AppendAllText(Path.Combine(folder.Path, CrsRuleSetLoader.PackageLoadFile), $"Include {folder.Path}/missing.conf\n");
        var error = Assert.Throws<SecLangException>(() => CrsRuleSetLoader.RuleFiles(folder.Path));
        Assert.Contains("missing.conf' matches no file", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SecRule ARGS \"@rx a\" \"id:1,phase:2,pass\"\nSecFrobnicate On\n", "test.conf:2: unsupported directive 'SecFrobnicate'")]
    [InlineData("SecRule ARGS \"@bogus a\" \"id:1,phase:2,pass\"\n", "test.conf:1: unsupported operator '@bogus'")]
    [InlineData("SecRule NOPE \"@rx a\" \"id:1,phase:2,pass\"\n", "test.conf:1: unsupported variable 'NOPE'")]
    [InlineData("SecRule ARGS \"@rx a\" \\\n  \"id:1,phase:2,pass,t:rot13\"\n", "test.conf:1: unsupported transformation 't:rot13'")]
    [InlineData("SecRule ARGS \"@rx a\" \"id:1,phase:2,pass,frob:2\"\n", "test.conf:1: unsupported action 'frob'")]
    [InlineData("SecRule ARGS \"@rx a\" \"id:1,phase:2,pass,skipAfter:NOWHERE\"\n", "test.conf:1: skipAfter marker 'NOWHERE' not found")]
    public void Load_Unsupported_IsAnErrorNamingFileAndLine(string rules, string expected)
    {
        using var folder = new ConfigDirectory();
        File.WriteAllText(Path.Combine(folder.Path, "crs-setup.conf"), "SecAction \"id:900990,phase:1,pass,nolog,setvar:tx.crs_setup_version=4280\"\n");
        File.WriteAllText(Path.Combine(folder.Path, "test.conf"), rules);

        var error = Assert.Throws<SecLangException>(() => CrsRuleSetLoader.Load(new CrsLoadOptions(folder.Path, 1)));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Loads the shared CRS v4 corpus for tests.</summary>
internal static class CrsTestRules
{
    public static CrsProgram LoadV4(int paranoiaLevel, IReadOnlySet<string>? disabled = null) =>
        CrsRuleSetLoader.Load(new CrsLoadOptions(SharedCorpora.Path("waf-corpora", "crs-v4-rules"), paranoiaLevel, DisabledRuleIds: disabled));
}
