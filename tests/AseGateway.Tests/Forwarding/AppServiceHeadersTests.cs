using System.Net;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Forwarding;

public sealed class AppServiceHeadersTests(ITestOutputHelper output)
{
    [Fact]
    public async Task UntrustedPeer_SpoofedForwardingHeaders_AreReplaced()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, trustedForwarders: """["10.0.1.0/24"]"""), output);

        await gateway.GetBodyAsync(TestConfigs.AppHost, "/orders?id=7", r =>
        {
            r.Headers.Add("X-Forwarded-For", "1.2.3.4");
            r.Headers.Add("X-Forwarded-Proto", "https");
            r.Headers.Add("X-Forwarded-Host", "evil.example");
            r.Headers.Add("Forwarded", "for=1.2.3.4");
            r.Headers.Add("X-Client-IP", "1.2.3.4");
            r.Headers.Add("X-Client-Port", "1");
            r.Headers.Add("X-ARR-SSL", "fake");
            r.Headers.Add("X-Original-URL", "/admin");
            r.Headers.Add("X-Site-Deployment-Id", "other");
            r.Headers.Add("X-ARR-ClientCert", "fake");
        });

        var headers = backends.List[0].ReceivedHeaders.Single();
        Assert.Equal("127.0.0.1", headers["X-Forwarded-For"]);
        Assert.Equal("http", headers["X-Forwarded-Proto"]);
        Assert.Equal("127.0.0.1", headers["X-Client-IP"]);
        Assert.True(int.Parse(headers["X-Client-Port"], System.Globalization.CultureInfo.InvariantCulture) > 1);
        Assert.Equal("/orders?id=7", headers["X-Original-URL"]);
        Assert.Equal("web", headers["X-Site-Deployment-Id"]);
        Assert.Equal(TestConfigs.AppHost, headers["Host"]);
        Assert.False(headers.ContainsKey("X-ARR-SSL"));
        Assert.False(headers.ContainsKey("X-ARR-ClientCert"));
        Assert.False(headers.ContainsKey("X-Forwarded-Host"));
        Assert.False(headers.ContainsKey("Forwarded"));
    }

    [Fact]
    public async Task TrustedForwarder_ChainIsKeptAndExtended_ClientIsRightmostUntrusted()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = TestConfigs.Static(backends.List, trustedForwarders: """["127.0.0.2", "10.0.1.0/24"]""");
        await using var gateway = await TestGateway.StartAsync(json, output);
        using var client = LoopbackClient.From(IPAddress.Parse("127.0.0.2"));

        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url);
        request.Headers.Host = TestConfigs.AppHost;
        request.Headers.Add("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.1.5");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "www.contoso.com");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var headers = backends.List[0].ReceivedHeaders.Single();
        Assert.Equal("6.6.6.6, 203.0.113.7, 10.0.1.5, 127.0.0.2", headers["X-Forwarded-For"]);
        Assert.Equal("203.0.113.7", headers["X-Client-IP"]);
        Assert.Equal("https", headers["X-Forwarded-Proto"]);
        Assert.Equal("www.contoso.com", headers["X-Forwarded-Host"]);
        Assert.False(headers.ContainsKey("X-Client-Port"));
    }

    [Fact]
    public async Task PeerOutsideTrustedForwarders_SameHeaders_AreNotBelieved()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = TestConfigs.Static(backends.List, trustedForwarders: """["127.0.0.2"]""");
        await using var gateway = await TestGateway.StartAsync(json, output);
        using var client = LoopbackClient.From(IPAddress.Parse("127.0.0.3"));

        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url);
        request.Headers.Host = TestConfigs.AppHost;
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var headers = backends.List[0].ReceivedHeaders.Single();
        Assert.Equal("127.0.0.3", headers["X-Forwarded-For"]);
        Assert.Equal("127.0.0.3", headers["X-Client-IP"]);
    }
}
