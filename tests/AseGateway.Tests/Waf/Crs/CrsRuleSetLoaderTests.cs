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

    [Fact]
    public void Load_ResponseBodyDirectives_OverrideLibModSecurityDefaults()
    {
        var defaults = CrsTestRules.LoadV4(paranoiaLevel: 1);
        using var folder = new ConfigDirectory();
        File.WriteAllText(Path.Combine(folder.Path, "crs-setup.conf"), "SecResponseBodyAccess On\nSecResponseBodyMimeType text/xml\nSecResponseBodyMimeType application/json\nSecResponseBodyLimit 2048\nSecResponseBodyLimitAction ProcessPartial\n");
        File.WriteAllText(Path.Combine(folder.Path, "RESPONSE-950-TEST.conf"), "SecRule RESPONSE_BODY \"@contains leak\" \"id:950901,phase:4,deny,log\"\n");

        var program = CrsRuleSetLoader.Load(new CrsLoadOptions(folder.Path, 1));

        Assert.True(defaults.HasResponseRules);
        Assert.False(defaults.InspectsResponseBodies);
        Assert.Equal(["text/plain", "text/html"], defaults.Response.MimeTypes);
        Assert.Equal(512 * 1024, defaults.Response.Limit);
        Assert.True(defaults.Response.RejectOverLimit);
        Assert.True(program.InspectsResponseBodies);
        Assert.Equal(["text/xml", "application/json"], program.Response.MimeTypes);
        Assert.True(program.Response.InspectsBodyOf("Application/JSON; charset=utf-8"));
        Assert.False(program.Response.InspectsBodyOf("text/plain"));
        Assert.Equal(2048, program.Response.Limit);
        Assert.False(program.Response.RejectOverLimit);
    }

    [Theory]
    [InlineData("SecRule ARGS \"@rx a\" \"id:1,phase:2,pass\"\nSecFrobnicate On\n", "test.conf:2: unsupported directive 'SecFrobnicate'")]
    [InlineData("SecRule ARGS \"@bogus a\" \"id:1,phase:2,pass\"\n", "test.conf:1: unsupported operator '@bogus'")]
    [InlineData("SecRule NOPE \"@rx a\" \"id:1,phase:2,pass\"\n", "test.conf:1: unsupported variable 'NOPE'")]
    [InlineData("SecRule ARGS \"@rx a\" \\\n  \"id:1,phase:2,pass,t:rot13\"\n", "test.conf:1: unsupported transformation 't:rot13'")]
    [InlineData("SecRule ARGS \"@rx a\" \"id:1,phase:2,pass,frob:2\"\n", "test.conf:1: unsupported action 'frob'")]
    [InlineData("SecRule ARGS \"@rx a\" \"id:1,phase:2,pass,skipAfter:NOWHERE\"\n", "test.conf:1: skipAfter marker 'NOWHERE' not found")]
    [InlineData("SecResponseBodyLimitAction Drop\n", "test.conf:1: SecResponseBodyLimitAction 'Drop' is not Reject or ProcessPartial")]
    [InlineData("SecResponseBodyAccess Maybe\n", "test.conf:1: SecResponseBodyAccess 'Maybe' is not On or Off")]
    [InlineData("SecResponseBodyLimit 1.5MB\n", "test.conf:1: SecResponseBodyLimit '1.5MB' is not a byte count")]
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
