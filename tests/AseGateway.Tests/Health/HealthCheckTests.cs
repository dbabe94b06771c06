using System.Net;
using AseGateway.Instances;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Health;

public sealed class HealthCheckTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FailingInstance_AfterMaxPingFailures_IsRemoved_AndReturnsWhenHealthy()
    {
        await using var backends = await Backends.StartAsync(3);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, maxPingFailures: 2), output);
        var sick = backends.List[0];

        sick.HealthStatus = 500;
        await gateway.WaitUntilAsync(() => !gateway.Available().Contains("web/web-plan/0"), TimeSpan.FromSeconds(15), "b0 is out of rotation");
        var before = sick.RequestCount;
        for (var i = 0; i < 12; i++)
        {
            Assert.NotEqual("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));
        }

        Assert.Equal(before, sick.RequestCount);

        sick.HealthStatus = 200;
        await gateway.WaitUntilAsync(() => gateway.Available().Contains("web/web-plan/0"), TimeSpan.FromSeconds(15), "b0 is back in rotation");
        var answers = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(await gateway.GetBodyAsync(TestConfigs.AppHost));
        }

        Assert.Contains("b0", answers);
    }

    [Fact]
    public async Task OneFailure_BelowThreshold_KeepsInstanceInRotation()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, maxPingFailures: 10), output);

        backends.List[0].HealthStatus = 500;
        await gateway.WaitUntilAsync(() => Failures(gateway, 0) >= 2, TimeSpan.FromSeconds(15), "b0 fails twice");
        var answers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add(await gateway.GetBodyAsync(TestConfigs.AppHost));
        }

        Assert.Contains("b0", answers);
    }

    [Fact]
    public async Task MostInstancesFailing_AtMostHalfAreExcluded()
    {
        await using var backends = await Backends.StartAsync(4);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, maxPingFailures: 2, maxUnhealthyPercent: 50), output);

        foreach (var backend in backends.List.Take(3))
        {
            backend.HealthStatus = 503;
        }

        await gateway.WaitUntilAsync(() => Failures(gateway, 0) >= 2 && Failures(gateway, 1) >= 2 && Failures(gateway, 2) >= 2 && gateway.Available().Count == 2, TimeSpan.FromSeconds(15), "three instances fail twice");
        var served = new HashSet<string>();
        for (var i = 0; i < 12; i++)
        {
            served.Add(await gateway.GetBodyAsync(TestConfigs.AppHost));
        }

        // Four instances, 50%: two are excluded, so two keep serving: the healthy one and one failing one.
        Assert.Equal(2, served.Count);
        Assert.Contains("b3", served);
    }

    [Fact]
    public async Task LoneInstanceFailing_IsNeverRemoved()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, maxPingFailures: 2, maxUnhealthyPercent: 100), output);

        backends.List[0].HealthStatus = 500;
        await gateway.WaitUntilAsync(() => Failures(gateway, 0) >= 3, TimeSpan.FromSeconds(15), "the only instance fails three times");

        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));
    }

    [Fact]
    public async Task InstanceStopsListening_ConnectionFailure_TakesItOutBeforeAnyPing()
    {
        await using var backends = await Backends.StartAsync(2);

        // Pings a minute apart: only passive health can react within this test.
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, intervalSeconds: 60), output);
        await backends.List[1].DisposeAsync();

        var failures = 0;
        for (var i = 0; i < 10; i++)
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
                failures++;
                continue;
            }

            Assert.Equal("b0", await response.Content.ReadAsStringAsync());
        }

        Assert.True(failures <= 1, $"{failures} requests failed; only the one that discovered the dead instance may.");
    }

    [Fact]
    public async Task HealthEndpointRedirects_IsAFailure_RedirectNotFollowed()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, maxPingFailures: 2), output);

        backends.List[0].HealthStatus = 302;
        await gateway.WaitUntilAsync(() => !gateway.Available().Contains("web/web-plan/0"), TimeSpan.FromSeconds(15), "b0 is out of rotation");

        Assert.Equal(302, gateway.Instances.FindActive("web/web-plan/0")!.LastProbe!.StatusCode);
    }

    private static int Failures(TestGateway gateway, int index) =>
        gateway.Instances.FindActive($"web/web-plan/{index}")?.ConsecutiveFailures ?? -1;
}
