using System.Diagnostics;
using System.Text.Json;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Hosting;

/// <summary>What the gateway executable loads and writes at start-up, for features it does not use.</summary>
public sealed class StartupFootprintTests
{
    private static readonly string Gateway = Path.Combine(AppContext.BaseDirectory, "AseGateway.dll");

    [Fact]
    public async Task Run_Started_LoadsNoXmlStackAndWritesNoDataProtectionKeyRing()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(TestConfigs.Static([backend]));
        var home = Directory.CreateTempSubdirectory("asegateway-home-").FullName;
        try
        {
            var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            startInfo.ArgumentList.Add(Gateway);
            startInfo.ArgumentList.Add("--config");
            startInfo.ArgumentList.Add(folder.FilePath);
            startInfo.ArgumentList.Add("--log-format");
            startInfo.ArgumentList.Add("json");

            // Data protection keeps its key ring under $HOME/.aspnet: a throw-away home shows whether it was loaded (a first
            // start writes a key there).
            startInfo.Environment["HOME"] = home;

            using var process = Process.Start(startInfo)!;
            string maps;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                Uri? listener = null;
                var started = false;
                while (!started && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
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

                // The first request through the proxy, so that what a served request needs is loaded too.
                using var client = new HttpClient();
                using var request = new HttpRequestMessage(HttpMethod.Get, listener);
                request.Headers.Host = TestConfigs.AppHost;
                using var response = await client.SendAsync(request, timeout.Token);
                Assert.True(response.IsSuccessStatusCode, $"proxied request answered {(int)response.StatusCode}");
                maps = await File.ReadAllTextAsync($"/proc/{process.Id}/maps", timeout.Token);
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            Assert.Contains("AseGateway.Core.dll", maps);
            Assert.DoesNotContain("System.Private.Xml.dll", maps);
            // YARP's session-affinity policies take a data protector when they are built, which creates the key folder;
            // the key ring itself is read, and a first key written, only when something is protected.
            Assert.Empty(Directory.EnumerateFiles(home, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
