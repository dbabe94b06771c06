using System.Diagnostics;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Cli;

/// <summary>The gateway executable as users run it: exit codes and what it prints.</summary>
public sealed class CommandLineTests
{
    private static readonly string Gateway = Path.Combine(AppContext.BaseDirectory, "AseGateway.dll");

    [Fact]
    public async Task Validate_InvalidFile_Exits2_ListingEveryErrorWithoutStackTrace()
    {
        using var folder = new ConfigDirectory();
        folder.WriteInPlace("""
            { "name": "bad ase", "frontEnd": { "listeners": [] }, "workerPools": [], "plans": [], "apps": [] }
            """);

        var (exitCode, stdout, stderr) = await RunAsync("validate", "--config", folder.FilePath);

        Assert.Equal(2, exitCode);
        Assert.Contains("name: 'bad ase' is not a valid name", stderr);
        Assert.Contains("frontEnd.listeners: at least one listener is required", stderr);
        Assert.Contains("workerPools: at least one worker pool is required", stderr);
        Assert.DoesNotContain("   at ", stderr + stdout);
    }

    [Fact]
    public async Task Validate_ValidFile_Exits0()
    {
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(Instances.ProcessInstanceTests.Config(1));

        var (exitCode, stdout, _) = await RunAsync("validate", "--config", folder.FilePath);

        Assert.True(exitCode == 0, stdout);
        Assert.Contains("valid", stdout);
    }

    [Fact]
    public async Task Run_InvalidFile_Exits2_BeforeStartingAnything()
    {
        using var folder = new ConfigDirectory();
        folder.WriteInPlace("{ \"name\": ");

        var (exitCode, _, stderr) = await RunAsync("--config", folder.FilePath);

        Assert.Equal(2, exitCode);
        Assert.Contains("invalid JSON", stderr);
    }

    [Fact]
    public async Task Run_MissingFile_Exits2_SayingSo()
    {
        var (exitCode, _, stderr) = await RunAsync("--config", "/nonexistent/ase.json");

        Assert.Equal(2, exitCode);
        Assert.Contains("does not exist", stderr);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        startInfo.ArgumentList.Add(Gateway);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
