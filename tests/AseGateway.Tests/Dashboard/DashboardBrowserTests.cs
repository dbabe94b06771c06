using System.Net;
using System.Text.Json;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Dashboard;

/// <summary>
/// The status dashboard in a real headless Chromium, against the shipped quickstart configuration (process instances
/// of the sample app): the page asks for the key, shows pools, plans and instances, and a scale clicked in the page
/// changes the instance count it shows.
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>src/AseGateway/quickstart.json on free loopback ports, with the test's API key.</summary>
    private static string Quickstart()
    {
        var hash = TestConfigs.ApiKeySha256;
        var json = File.ReadAllText(RepoPaths.Combine("src", "AseGateway", "quickstart.json"))
            .Replace("\"$schema\": \"./ase.schema.json\",", string.Empty, StringComparison.Ordinal)
            .Replace("\"address\": \"localhost\", \"port\": 8080", "\"address\": \"127.0.0.1\", \"port\": 0", StringComparison.Ordinal)
            .Replace("\"port\": 9090", "\"port\": 0", StringComparison.Ordinal)
            .Replace("{ \"name\": \"quickstart\", \"environmentVariable\": \"ASEGATEWAY_API_KEY\", \"role\": \"Admin\" }", $"{{ \"name\": \"test\", \"sha256\": \"{hash}\" }}", StringComparison.Ordinal);
        Assert.Contains(hash, json, StringComparison.Ordinal);
        return json;
    }

    [Fact]
    public async Task Quickstart_PageShowsPoolsAndInstances_ScaleClickedInPage_ChangesInstancesShown()
    {
        await using var gateway = await TestGateway.StartAsync(Quickstart(), output);
        Assert.Equal(5, gateway.Server.Snapshots.Current.Instances.Count);

        // The page holds no data: it is served without a key, with a strict content security policy.
        using var anonymous = new HttpClient { BaseAddress = gateway.Server.ManagementUrl };
        using var page = await anonymous.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        await using var browser = await HeadlessChromium.StartAsync(Timeout);
        await browser.NavigateAsync(new Uri(gateway.Server.ManagementUrl, "/dashboard/"));
        await browser.WaitForAsync("document.readyState === 'complete' && document.querySelector('#key-form') && !document.querySelector('#key-panel').hidden", Timeout, "the page asks for the key");

        await browser.EvaluateAsync($"document.querySelector('#api-key').value = {JsonSerializer.Serialize(TestConfigs.ApiKey)}; document.querySelector('#key-form button[type=submit]').click(); true");
        await browser.WaitForAsync("document.body.dataset.loaded === 'true' && document.querySelectorAll('#instances tbody tr').length === 5", Timeout, "the five quickstart instances are listed");

        Assert.Equal("quickstart", (await browser.EvaluateAsync("document.querySelector('#environment').textContent"))!.GetValue<string>());
        Assert.Equal("WP1,WP2", (await browser.EvaluateAsync("[...document.querySelectorAll('#pools tbody tr')].map(r => r.dataset.pool).join()"))!.GetValue<string>());
        Assert.Equal("3", (await browser.EvaluateAsync("document.querySelector('#plans tr[data-plan=dev] .instance-count').textContent"))!.GetValue<string>());
        await browser.WaitForAsync("[...document.querySelectorAll('#instances tbody tr')].every(r => r.dataset.state === 'healthy')", Timeout, "every instance shows healthy");
        Assert.Equal(TestConfigs.ApiKey, (await browser.EvaluateAsync("sessionStorage.getItem('aseGateway.apiKey')"))!.GetValue<string>());
        Assert.Equal(string.Empty, (await browser.EvaluateAsync("location.search"))!.GetValue<string>());

        // Traffic shows up as a per-app total (rates are computed in the page between two readings).
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("hello.contoso.com")).StatusCode);
        }

        await browser.WaitForAsync("document.querySelector('#traffic tr[data-app=hello] .total').textContent === '3'", Timeout, "hello's request total shows 3");

        // Scale plan dev from 3 to 2 instances by clicking in the page.
        await browser.EvaluateAsync("document.querySelector('input[data-scale-input=\"plan:dev\"]').value = '2'; document.querySelector('button[data-scale-button=\"plan:dev\"]').click(); true");
        await browser.WaitForAsync("document.querySelector('#plans tr[data-plan=dev] .instance-count').textContent === '2'", Timeout, "plan dev shows 2 instances");
        await browser.WaitForAsync("document.querySelectorAll('#instances tbody tr[data-instance^=\"hello/\"]').length === 2", Timeout, "hello shows 2 instances");
        Assert.Contains("accepted", (await browser.EvaluateAsync("document.querySelector('#message').textContent"))!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(2, gateway.Server.Snapshots.Current.Instances.Count(i => i.AppName == "hello"));

        if (Environment.GetEnvironmentVariable("ASEGATEWAY_DASHBOARD_SCREENSHOT") is { Length: > 0 } screenshot)
        {
            await File.WriteAllBytesAsync(screenshot, await browser.ScreenshotAsync());
        }
    }
}
