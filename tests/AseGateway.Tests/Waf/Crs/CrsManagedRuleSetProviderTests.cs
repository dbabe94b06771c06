using AseGateway.Configuration;
using AseGateway.Tests.Infrastructure;
using AseGateway.Waf;
using AseGateway.Waf.Crs;
using Xunit.Abstractions;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>
/// Reloads reuse the compiled CRS while its settings and files are unchanged, and compile it again when a rule or data
/// file changes, appears or goes; a broken file is an error naming file and line. Real files in a temporary folder.
/// </summary>
public sealed class CrsManagedRuleSetProviderTests(ITestOutputHelper output) : IDisposable
{
    private const string Setup = "SecAction \"id:900990,phase:1,pass,nolog,setvar:tx.crs_setup_version=4280\"\n";
    private const string Rules = "SecRule ARGS \"@pmFromFile words.data\" \"id:100001,phase:2,pass,log,msg:'word'\"\n";

    private readonly ConfigDirectory _folder = WithTestRules(new ConfigDirectory());
    private readonly CrsManagedRuleSetProvider _provider = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Create_UnchangedFilesAndSettings_ReusesTheCompiledProgram()
    {
        var first = Program(Config());
        var second = Program(Config());

        Assert.Same(first, second);
        Assert.Equal(1, _provider.Compilations);
    }

    [Fact]
    public void Create_OtherSettings_CompilesItsOwnProgramAndKeepsBoth()
    {
        var levelOne = Program(Config());
        var levelTwo = Program(Config() with { ParanoiaLevel = 2 });
        var disabled = Program(Config() with { RuleGroupOverrides = [new WafRuleGroupOverrideConfig { RuleGroupName = "test", Rules = [new WafRuleOverrideConfig { RuleId = "100001", State = WafState.Disabled }] }] });

        Assert.NotSame(levelOne, levelTwo);
        Assert.NotSame(levelOne, disabled);
        Assert.Same(levelOne, Program(Config()));
        Assert.Same(levelTwo, Program(Config() with { ParanoiaLevel = 2 }));
        Assert.Equal(3, _provider.Compilations);
    }

    [Fact]
    public void Create_RuleFileChanged_CompilesTheNewRules()
    {
        var before = Program(Config());
        File.AppendAllText(RulesFile("REQUEST-100-TEST.conf"), "SecRule ARGS \"@rx gamma\" \"id:100002,phase:2,pass,log,msg:'gamma'\"\n");

        var after = Program(Config());

        Assert.NotSame(before, after);
        Assert.DoesNotContain(before.Rules, r => r.RuleId == "100002");
        Assert.Contains(after.Rules, r => r.RuleId == "100002");
        Assert.Same(after, Program(Config()));
    }

    [Fact]
    public void Create_SameSizeEditOfADataFile_CompilesAgain()
    {
        var before = Program(Config());
        var time = File.GetLastWriteTimeUtc(RulesFile("words.data"));
        File.WriteAllText(RulesFile("words.data"), "gamma\nbeta\n"); // the same 11 bytes as before
        File.SetLastWriteTimeUtc(RulesFile("words.data"), time); // as a copy that keeps times would leave it

        Assert.NotSame(before, Program(Config()));
        Assert.Equal(2, _provider.Compilations);
    }

    [Fact]
    public void Create_RuleFileAddedOrRemoved_CompilesAgain()
    {
        var before = Program(Config());
        File.WriteAllText(RulesFile("REQUEST-200-MORE.conf"), "SecRule ARGS \"@rx delta\" \"id:200001,phase:2,pass,log,msg:'delta'\"\n");

        var added = Program(Config());
        File.Delete(RulesFile("REQUEST-200-MORE.conf"));
        var removed = Program(Config());

        Assert.NotSame(before, added);
        Assert.Contains(added.Rules, r => r.RuleId == "200001");
        Assert.NotSame(added, removed);
        Assert.DoesNotContain(removed.Rules, r => r.RuleId == "200001");
    }

    [Fact]
    public void Create_BrokenRuleFile_IsAnErrorNamingFileAndLine_AndTheFixedFileLoads()
    {
        var good = Program(Config());
        File.AppendAllText(RulesFile("REQUEST-100-TEST.conf"), "SecRule ARGS \"@bogus x\" \"id:100003,phase:2,pass\"\n");

        var error = Assert.Throws<ManagedRuleSetLoadException>(() => Program(Config()));
        Assert.Contains("REQUEST-100-TEST.conf:2: unsupported operator '@bogus'", error.Message, StringComparison.Ordinal);

        // The failed load replaced nothing: the file as it was before is the program compiled before.
        File.WriteAllText(RulesFile("REQUEST-100-TEST.conf"), Rules);
        Assert.Same(good, Program(Config()));
        File.AppendAllText(RulesFile("REQUEST-100-TEST.conf"), "SecRule ARGS \"@rx gamma\" \"id:100002,phase:2,pass,log,msg:'gamma'\"\n");
        Assert.Contains(Program(Config()).Rules, r => r.RuleId == "100002");
    }

    [Fact]
    public void Create_CrsV4Corpus_SecondLoadReusesTheProgram()
    {
        var config = new WafManagedRuleSetConfig { RuleSetType = "OWASP", RuleSetVersion = "4.28", RulesPath = SharedCorpora.Path("waf-corpora", "crs-v4-rules"), ParanoiaLevel = 4 };

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var first = (CrsManagedRuleSet)_provider.Create(config, _folder.Path);
        var compiled = clock.Elapsed;
        clock.Restart();
        var second = (CrsManagedRuleSet)_provider.Create(config, _folder.Path);
        output.WriteLine($"CRS v4 PL4: compiled in {compiled.TotalMilliseconds:0} ms, reused in {clock.Elapsed.TotalMilliseconds:0} ms (a measurement, not asserted)");

        Assert.Same(first.Program, second.Program);
        Assert.Equal(1, _provider.Compilations);
        Assert.True(first.Program.RuleCount > 600);
    }

    private static ConfigDirectory WithTestRules(ConfigDirectory folder)
    {
        File.WriteAllText(Path.Combine(folder.Path, "crs-setup.conf"), Setup);
        File.WriteAllText(Path.Combine(folder.Path, "REQUEST-100-TEST.conf"), Rules);
        File.WriteAllText(Path.Combine(folder.Path, "words.data"), "alpha\nbeta\n");
        return folder;
    }

    private string RulesFile(string name) => Path.Combine(_folder.Path, name);

    private WafManagedRuleSetConfig Config() => new() { RuleSetType = "OWASP", RuleSetVersion = "4.28", RulesPath = _folder.Path, ParanoiaLevel = 1 };

    private CrsProgram Program(WafManagedRuleSetConfig config) => ((CrsManagedRuleSet)_provider.Create(config, _folder.Path)).Program;
}
