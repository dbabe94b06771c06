using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c>) driven over the Chrome DevTools Protocol: one page, navigate,
/// evaluate JavaScript. Started on a free debugging port with its own profile folder; disposing kills the process
/// tree it started (by its PID) and deletes the profile.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static string? FindExecutable()
    {
        foreach (var candidate in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static async Task<HeadlessChromium> StartAsync(TimeSpan timeout)
    {
        var executable = FindExecutable() ?? throw new InvalidOperationException("Chromium is not installed: apt-get install -y chromium (.ci/run installs it).");
        var profile = Directory.CreateTempSubdirectory("asegateway-chromium-").FullName;
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };

        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        foreach (var argument in new[] { "--headless=new", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", $"--user-data-dir={profile}", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage", "--window-size=1400,1000", "about:blank" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Chromium did not start.");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var browser = new HeadlessChromium(process, profile);
        try
        {
            await browser.ConnectAsync(timeout);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    public Task NavigateAsync(Uri url) => SendAsync("Page.navigate", new JsonObject { ["url"] = url.AbsoluteUri });

    /// <summary>Evaluates an expression in the page (awaiting a promise) and returns its JSON value.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result?["exceptionDetails"] is { } error)
        {
            throw new InvalidOperationException($"The page threw: {error.ToJsonString()}");
        }

        return result?["result"]?["value"];
    }

    /// <summary>Re-evaluates <paramref name="condition"/> (a boolean expression) until it holds, or fails after <paramref name="timeout"/>.</summary>
    public async Task WaitForAsync(string condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while ((await EvaluateAsync($"Boolean({condition})"))?.GetValue<bool>() != true)
        {
            if (deadline.Elapsed > timeout)
            {
                var body = await EvaluateAsync("document.body ? document.body.innerText : ''");
                Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting until {what}. The page shows:\n{body}");
            }

            await Task.Delay(100);
        }
    }

    public async Task<byte[]> ScreenshotAsync()
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        return Convert.FromBase64String(result!["data"]!.GetValue<string>());
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (TimeoutException)
        {
            // Killed but not yet reaped: the OS finishes it.
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // A helper process may still hold a file for a moment; the folder is under the temp directory.
        }
    }

    private async Task ConnectAsync(TimeSpan timeout)
    {
        var portFile = Path.Combine(_profile, "DevToolsActivePort");
        var deadline = Stopwatch.StartNew();
        string[] lines = [];
        while (lines.Length < 2)
        {
            if (_process.HasExited || deadline.Elapsed > timeout)
            {
                throw new InvalidOperationException($"Chromium did not open its debugging port (exited: {_process.HasExited}).");
            }

            await Task.Delay(100);
            if (File.Exists(portFile))
            {
                lines = (await File.ReadAllTextAsync(portFile)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        // The first page target (about:blank) is the tab to drive.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{lines[0].Trim()}/") };
        JsonArray? targets = null;
        while (targets is null || !targets.Any(t => t?["type"]?.GetValue<string>() == "page"))
        {
            targets = JsonNode.Parse(await http.GetStringAsync("json/list"))!.AsArray();
            if (deadline.Elapsed > timeout)
            {
                throw new InvalidOperationException("Chromium has no page target.");
            }
        }

        var page = targets.First(t => t?["type"]?.GetValue<string>() == "page")!;
        await _socket.ConnectAsync(new Uri(page["webSocketDebuggerUrl"]!.GetValue<string>()), CancellationToken.None);
        await SendAsync("Page.enable", []);
        await SendAsync("Runtime.enable", []);
    }

    private async Task<JsonNode?> SendAsync(string method, JsonObject parameters)
    {
        var id = ++_nextId;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var received = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(buffer, timeout.Token);
                received.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            // Events (no id) and answers to other calls are skipped: calls are made one at a time.
            var reply = JsonNode.Parse(received.ToArray())!;
            if (reply["id"]?.GetValue<int>() == id)
            {
                if (reply["error"] is { } error)
                {
                    throw new InvalidOperationException($"{method} failed: {error.ToJsonString()}");
                }

                return reply["result"];
            }
        }
    }
}
