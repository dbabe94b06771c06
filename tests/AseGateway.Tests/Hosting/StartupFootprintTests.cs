using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Hosting;

/// <summary>What the gateway executable loads and writes at start-up, for features it does not use.</summary>
public sealed class StartupFootprintTests
{
    [Fact]
    public async Task Run_Started_LoadsTheSegmentsGcAndNoXmlOrOpenApiStackAndWritesNoDataProtectionKeyRing()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(TestConfigs.Static([backend]));
        var home = Directory.CreateTempSubdirectory("asegateway-home-").FullName;
        try
        {
            // Data protection keeps its key ring under $HOME/.aspnet: a throw-away home shows whether it was loaded (a first
            // start writes a key there).
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            string maps;
            await using (var gateway = await GatewayProcess.StartAsync(folder.FilePath, new Dictionary<string, string> { ["HOME"] = home }, timeout.Token))
            {
                // The first request through the proxy, so that what a served request needs is loaded too.
                using var client = new HttpClient();
                using var request = new HttpRequestMessage(HttpMethod.Get, gateway.HttpListener);
                request.Headers.Host = TestConfigs.AppHost;
                using var response = await client.SendAsync(request, timeout.Token);
                Assert.True(response.IsSuccessStatusCode, $"proxied request answered {(int)response.StatusCode}");
                maps = await File.ReadAllTextAsync($"/proc/{gateway.Id}/maps", timeout.Token);
            }

            Assert.Contains("AseGateway.Core.dll", maps);
            // The collector with segments, which the project names for Linux (src/AseGateway/AseGateway.csproj): the
            // runtime loaded it in place of the one built into libcoreclr.so.
            Assert.Contains("/libclrgc.so", maps);
            Assert.DoesNotContain("System.Private.Xml.dll", maps);
            // The management API's OpenAPI document is generated on its first request, with ApiExplorer and MVC Core.
            Assert.DoesNotContain("Microsoft.OpenApi.dll", maps);
            Assert.DoesNotContain("Microsoft.AspNetCore.Mvc.Core.dll", maps);
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
