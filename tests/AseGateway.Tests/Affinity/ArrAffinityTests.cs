using System.Net;
using AseGateway.Affinity;
using AseGateway.Forwarding;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Xunit.Abstractions;

namespace AseGateway.Tests.Affinity;

public sealed class ArrAffinityTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FirstResponse_AffinityEnabled_SetsBothAppServiceCookies()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, affinity: true), output);

        using var response = await gateway.GetAsync(TestConfigs.AppHost);
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();

        Assert.Equal(2, cookies.Count);
        Assert.Matches("^ARRAffinity=[0-9a-f]{64};Path=/;HttpOnly$", cookies[0]);
        Assert.Matches("^ARRAffinitySameSite=[0-9a-f]{64};Path=/;HttpOnly;SameSite=None;Secure$", cookies[1]);
    }

    [Fact]
    public async Task RequestsWithCookie_PinToOneInstance_AndGetNoNewCookie()
    {
        await using var backends = await Backends.StartAsync(3);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, affinity: true), output);

        var (first, cookie) = await FirstVisitAsync(gateway);
        for (var i = 0; i < 10; i++)
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, configure: r => r.Headers.Add("Cookie", cookie));
            Assert.Equal(first, await response.Content.ReadAsStringAsync());
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
    }

    [Fact]
    public async Task PinnedInstanceUnhealthy_Request_IsReroutedWithNewCookie()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, affinity: true), output);
        var (first, cookie) = await FirstVisitAsync(gateway);
        var pinned = backends.List.Single(b => b.Name == first);

        pinned.HealthStatus = 503;
        await gateway.WaitUntilAsync(() => gateway.Available().Count == 1, TimeSpan.FromSeconds(15), "the pinned instance is out of rotation");

        using var response = await gateway.GetAsync(TestConfigs.AppHost, configure: r => r.Headers.Add("Cookie", cookie));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(first, await response.Content.ReadAsStringAsync());
        Assert.StartsWith("ARRAffinity=", response.Headers.GetValues("Set-Cookie").First());
    }

    [Fact]
    public async Task CookieForUnknownInstance_Request_IsBalancedNormally()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, affinity: true), output);

        using var response = await gateway.GetAsync(TestConfigs.AppHost, configure: r => r.Headers.Add("Cookie", $"ARRAffinity={new string('a', 64)}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task AppSendsDisableHeader_Response_HasNoCookieAndNoHeader()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, affinity: true), output);

        using var response = await gateway.GetAsync(TestConfigs.AppHost, "/no-affinity");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.False(response.Headers.Contains("Arr-Disable-Session-Affinity"));
    }

    [Fact]
    public async Task AffinityDisabled_Response_HasNoCookie()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, affinity: false), output);

        using var response = await gateway.GetAsync(TestConfigs.AppHost);

        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Http2_ClientWithoutCookie_GetsTheCookiesOnEveryAnswer_ThenStaysPinned()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.WithH2c(TestConfigs.Static(backends.List, affinity: true)), output);

        // No Cookie header at all: the gateway cannot know the client is pinned, so every answer carries both cookies.
        string? first = null;
        for (var i = 0; i < 3; i++)
        {
            using var unpinned = await gateway.GetHttp2Async(TestConfigs.AppHost);
            var cookies = unpinned.Headers.GetValues("Set-Cookie").ToList();
            Assert.Equal(2, cookies.Count);
            Assert.Matches("^ARRAffinity=[0-9a-f]{64};Path=/;HttpOnly$", cookies[0]);
            first ??= cookies[0].Split(';')[0]["ARRAffinity=".Length..];
        }

        // Only the SameSite copy, among other cookies: pinned (round robin would alternate), and no cookie is sent again.
        var answeredBy = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            using var pinned = await gateway.GetHttp2Async(TestConfigs.AppHost, configure: r => r.Headers.Add("Cookie", $"theme=dark; ARRAffinitySameSite={first}"));
            Assert.Equal(HttpStatusCode.OK, pinned.StatusCode);
            answeredBy.Add(await pinned.Content.ReadAsStringAsync());
            Assert.False(pinned.Headers.Contains("Set-Cookie"));
        }

        Assert.Single(answeredBy);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("theme=dark; session=3f2a9c", null)]
    [InlineData("theme=dark; ARRAffinity=abc; session=3f2a9c", "abc")]
    [InlineData("ARRAffinitySameSite=same; ARRAffinity=plain", "plain")] // the plain cookie wins wherever it is
    [InlineData("ARRAffinity=plain; ARRAffinitySameSite=same", "plain")]
    [InlineData("theme=dark; ARRAffinitySameSite=same", "same")]
    [InlineData("ARRAffinity=first; ARRAffinity=second", "second")] // the last, as the cookie collection keeps it
    [InlineData("ARRAffinity=first; ARRAffinity=", "first")] // an empty value is no token
    [InlineData("ARRAffinity=; ARRAffinitySameSite=same", "same")]
    [InlineData("arraffinity=lower", "lower")] // names ignore case
    [InlineData("ARRAFFINITYSAMESITE=upper", "upper")]
    [InlineData("ARRAffinityX=other; ARRAffinitySameSiteX=other; XARRAffinity=other; ARRAffin=other", null)]
    [InlineData("ARRAffinity=a%2Bb", "a+b")] // decoded, as the cookie collection decodes it
    [InlineData("theme=dark,ARRAffinity=comma", "comma")]
    public void ReadToken_OneWalk_FindsWhatTwoLookupsByNameFound(string? header, string? expected)
    {
        var cookies = header is null ? StringValues.Empty : new StringValues(header);

        Assert.Equal(expected, ArrAffinity.ReadToken(cookies));
        var byName = CookieHeader.Last(cookies, "ARRAffinity") ?? CookieHeader.Last(cookies, "ARRAffinitySameSite");
        Assert.Equal(byName, ArrAffinity.ReadToken(cookies));
    }

    [Fact]
    public void ReadToken_SeveralCookieHeaders_ReadsThemAll()
    {
        var cookies = new StringValues(["ARRAffinitySameSite=same", "theme=dark", "ARRAffinity=plain"]);

        Assert.Equal("plain", ArrAffinity.ReadToken(cookies));
    }

    [Fact]
    public void Token_ReadOncePerRequest_ThenKeptOnTheRequestsFeature()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = "ARRAffinity=abc";
        var gateway = new GatewayRequestFeature(null!, IPAddress.Loopback, peerIsTrustedForwarder: false, IPAddress.Loopback, 50000);

        var first = ArrAffinity.Token(context.Request, gateway);
        context.Request.Headers.Cookie = "ARRAffinity=changed";

        Assert.Equal("abc", first);
        Assert.Same(first, ArrAffinity.Token(context.Request, gateway));
        Assert.True(gateway.AffinityTokenRead);
    }

    private static async Task<(string Backend, string Cookie)> FirstVisitAsync(TestGateway gateway)
    {
        using var response = await gateway.GetAsync(TestConfigs.AppHost);
        var setCookie = response.Headers.GetValues("Set-Cookie").First();
        return (await response.Content.ReadAsStringAsync(), setCookie.Split(';')[0]);
    }
}
