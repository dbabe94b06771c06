using System.Diagnostics;
using System.Text.Json;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Observability;

/// <summary>The executable's JSON console logs, as a container log collector reads them.</summary>
public sealed class JsonConsoleLogTests
{
    private static readonly string Gateway = Path.Combine(AppContext.BaseDirectory, "AseGateway.dll");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_LogFormatJson_EveryStdoutLineIsAJsonObjectWithStableEventIds(bool byOption)
    {
        await using var backend = await TestBackend.StartAsync("b0");
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(TestConfigs.Static([backend]));

        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        startInfo.ArgumentList.Add(Gateway);
        startInfo.ArgumentList.Add("--config");
        startInfo.ArgumentList.Add(folder.FilePath);
        if (byOption)
        {
            startInfo.ArgumentList.Add("--log-format");
            startInfo.ArgumentList.Add("json");
        }
        else
        {
            startInfo.Environment["ASEGATEWAY_LOG_FORMAT"] = "Json";
        }

        using var process = Process.Start(startInfo)!;
        var lines = new List<string>();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                lines.Add(line);
                if (line.Contains("\"EventId\":500", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        Assert.NotEmpty(lines);
        var events = new List<int>();
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            Assert.True(DateTime.TryParse(root.GetProperty("Timestamp").GetString(), out _), line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("Category").GetString()), line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("LogLevel").GetString()), line);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("Message").GetString()), line);
            events.Add(root.GetProperty("EventId").GetInt32());
        }

        // Listener bound (501), management listening (503), started (500) — the ids operators alert on.
        Assert.Contains(501, events);
        Assert.Contains(503, events);
        Assert.Equal(500, events[^1]);
        using var started = JsonDocument.Parse(lines[^1]);
        Assert.Equal("test-ase", started.RootElement.GetProperty("State").GetProperty("Environment").GetString());
    }
}
