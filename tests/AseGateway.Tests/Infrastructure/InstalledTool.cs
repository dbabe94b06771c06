using System.Diagnostics;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// Debian tools some tests drive (.ci/run installs them): a missing one fails the test with how to install it, and a
/// run that does not end in time is killed and fails it.
/// </summary>
internal static class InstalledTool
{
    public static string Find(string name, string neededFor)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail($"{name} is not installed: {neededFor} need it (apt-get install -y {name}; .ci/run installs it).");
        return null!;
    }

    /// <summary>Runs <paramref name="tool"/> to its end, <paramref name="input"/> (if any) on its standard input, then closed.</summary>
    public static async Task<ToolRun> RunAsync(string tool, string arguments, string? input, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(tool, arguments)
        {
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(tool)} did not end within {timeout.TotalSeconds} s: {await stderr}");
        }

        return new ToolRun(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>How a tool's run ended, and what it printed.</summary>
internal sealed record ToolRun(int ExitCode, string Output, string Error);
