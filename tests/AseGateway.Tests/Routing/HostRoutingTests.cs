using System.Net;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Routing;

public sealed class HostRoutingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(TestConfigs.AppHost)]
    [InlineData("web.ase.test")]
    [InlineData("WEB.Contoso.TEST")]
    public async Task Request_KnownHostOrDefaultName_ReachesApp(string host)
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static([backend]), output);

        Assert.Equal("b0", await gateway.GetBodyAsync(host));
    }

    [Theory]
    [InlineData("web.contoso.test", HttpStatusCode.OK)]
    [InlineData("Web.Contoso.Test:80", HttpStatusCode.OK)]
    [InlineData("shop.contoso.test", HttpStatusCode.MovedPermanently)]
    [InlineData("shop.contoso.test:8080", HttpStatusCode.MovedPermanently)]
    [InlineData("contoso.test", HttpStatusCode.NotFound)]
    [InlineData("127.0.0.1", HttpStatusCode.NotFound)]
    public async Task Request_ExactHostOutranksAnotherAppsWildcard(string host, HttpStatusCode expected)
    {
        // The wildcard app is told apart by its HTTPS-only redirect: both apps share the one backend.
        await using var backend = await TestBackend.StartAsync("b0");
        var json = TestConfigs.Static([backend]).Replace(
            "\"apps\": [",
            "\"apps\": [ { \"name\": \"wild\", \"plan\": \"web-plan\", \"hostNames\": [ \"*.contoso.test\" ], \"httpsOnly\": true },");
        await using var gateway = await TestGateway.StartAsync(json, output);

        using var response = await gateway.GetAsync(host);

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal("b0", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Request_UnknownHost_Returns404NamingTheHost()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static([backend]), output);

        using var response = await gateway.GetAsync("nobody.example.org", "/some/path.js?x=1");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Contains("'nobody.example.org'", body);
        Assert.DoesNotContain("Exception", body);
        Assert.Equal(0, backend.RequestCount);
    }

    [Fact]
    public async Task Request_PathAndQuery_ArePassedThroughUnchanged()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static([backend]), output);

        await gateway.GetBodyAsync(TestConfigs.AppHost, "/a/b%20c?q=1&r=%2F");

        var headers = backend.ReceivedHeaders.Last();
        Assert.Equal("/a/b%20c?q=1&r=%2F", headers["X-Original-URL"]);
        Assert.Equal(TestConfigs.AppHost, headers["Host"]);
    }

    [Fact]
    public async Task Request_NoReadyInstance_Returns503()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        backend.HealthStatus = 500;
        var json = TestConfigs.Static([backend]);
        await using var gateway = await TestGateway.StartAsync(json, output, readyTimeout: TimeSpan.FromMilliseconds(500));

        using var response = await gateway.GetAsync(TestConfigs.AppHost);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(0, backend.RequestCount);
    }
}
