using System.Diagnostics;
using System.Net;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Instances;

/// <summary>The gateway executable killed with SIGKILL takes its process instances with it.</summary>
public sealed class OrphanTests
{
    [Fact]
    public async Task GatewayKilled_ChildInstancesDieToo()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // parent-death signals are a Linux feature; elsewhere the gateway stops children on graceful exit only
        }

        using var folder = new ConfigDirectory();
        var port = FreePort();
        folder.WriteInPlace(ProcessInstanceTests.Config(2).Replace("\"management\": { \"address\": \"127.0.0.1\", \"port\": 0 }", $"\"management\": {{ \"address\": \"127.0.0.1\", \"port\": {port} }}"));
        var startInfo = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AseGateway.dll"));
        startInfo.ArgumentList.Add("--config");
        startInfo.ArgumentList.Add(folder.FilePath);
        using var gateway = Process.Start(startInfo)!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        gateway.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        gateway.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        gateway.BeginOutputReadLine();
        gateway.BeginErrorReadLine();

        try
        {
            await WaitForHealthAsync(port, gateway);
            var children = ChildrenOf(gateway.Id);
            Assert.True(children.Count == 2, $"expected 2 instance processes, found {children.Count}: {string.Join(Environment.NewLine, output)}");

            gateway.Kill(); // SIGKILL: no chance to clean up

            await gateway.WaitForExitAsync();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            foreach (var child in children)
            {
                await WaitForExitAsync(child, deadline.Token);
            }
        }
        finally
        {
            if (!gateway.HasExited)
            {
                gateway.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task WaitForHealthAsync(int port, Process gateway)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        while (await ticks.WaitForNextTickAsync(deadline.Token))
        {
            Assert.False(gateway.HasExited, "the gateway exited during start-up");
            try
            {
                using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"), deadline.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
        }
    }

    private static async Task WaitForExitAsync(int pid, CancellationToken cancellationToken)
    {
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
        {
            await ticks.WaitForNextTickAsync(cancellationToken);
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] == "Z";
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var folder in Directory.GetDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(folder), out var pid))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == parent)
                    {
                        children.Add(pid);
                    }
                }
                catch (IOException)
                {
                    // The process ended while we looked.
                }
            }
        }

        return children;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
