using System.Diagnostics;
using System.Text.Json;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// The gateway executable as a child process (for what only a fresh process shows: its environment as the runtime
/// reads it at start, what it loads), started with JSON console logs and ready once it logged its start (event 500).
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private static readonly string Gateway = Path.Combine(AppContext.BaseDirectory, "AseGateway.dll");

    private readonly Process _process;

    private GatewayProcess(Process process, Uri listener)
    {
        _process = process;
        HttpListener = listener;
    }

    /// <summary>The data plane's "http" listener.</summary>
    public Uri HttpListener { get; }

    public int Id => _process.Id;

    public static async Task<GatewayProcess> StartAsync(string configPath, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        startInfo.ArgumentList.Add(Gateway);
        startInfo.ArgumentList.Add("--config");
        startInfo.ArgumentList.Add(configPath);
        startInfo.ArgumentList.Add("--log-format");
        startInfo.ArgumentList.Add("json");
        foreach (var (name, value) in environment)
        {
            startInfo.Environment[name] = value;
        }

        var process = Process.Start(startInfo)!;
        try
        {
            Uri? listener = null;
            var started = false;
            while (!started && await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                var eventId = root.GetProperty("EventId").GetInt32();
                if (eventId == 501 && root.GetProperty("State").GetProperty("Listener").GetString() == "http")
                {
                    listener = new Uri(root.GetProperty("State").GetProperty("Url").GetString()!);
                }

                started = eventId == 500;
            }

            Assert.True(started, "the gateway did not log its start (event 500)");
            Assert.NotNull(listener);

            // Keep draining its output, so that a chatty gateway never blocks on a full pipe.
            _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
            _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
            return new GatewayProcess(process, listener);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            process.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
