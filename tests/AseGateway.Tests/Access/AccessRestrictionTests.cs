using System.Net;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Access;

/// <summary>App Service access restrictions, per request, from real loopback clients.</summary>
public sealed class AccessRestrictionTests(ITestOutputHelper output)
{
    private static readonly IPAddress Two = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Three = IPAddress.Parse("127.0.0.3");

    private static string WithRestrictions(string json, string restrictions, string trustedForwarders = "[]") => json
        .Replace("\"trustedForwarders\": []", $"\"trustedForwarders\": {trustedForwarders}")
        .Replace("\"loadBalancing\": \"RoundRobin\"", $"\"loadBalancing\": \"RoundRobin\", \"accessRestrictions\": {restrictions}");

    [Fact]
    public async Task AllowRule_ImplicitDenyForEveryoneElse()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(WithRestrictions(TestConfigs.Static(backends.List), """
            { "rules": [ { "name": "office", "priority": 100, "action": "Allow", "ipAddress": "127.0.0.2/32" } ] }
            """), output);

        Assert.Equal(HttpStatusCode.OK, (await LoopbackClient.GetAsync(Two, gateway.Url, TestConfigs.AppHost)).StatusCode);
        using var denied = await LoopbackClient.GetAsync(Three, gateway.Url, TestConfigs.AppHost);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Contains("restricted", await denied.Content.ReadAsStringAsync());
        Assert.Equal(1, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task DefaultActionAllow_DenyRule_PriorityOrder()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(WithRestrictions(TestConfigs.Static(backends.List), """
            { "defaultAction": "Allow", "rules": [
              { "name": "blockScanner", "priority": 200, "action": "Deny", "ipAddress": "127.0.0.0/24" },
              { "name": "letTwoIn", "priority": 100, "action": "Allow", "ipAddress": "198.51.100.0/24,127.0.0.2/32" } ] }
            """), output);

        Assert.Equal(HttpStatusCode.OK, (await LoopbackClient.GetAsync(Two, gateway.Url, TestConfigs.AppHost)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await LoopbackClient.GetAsync(Three, gateway.Url, TestConfigs.AppHost)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoopbackClient.GetAsync(IPAddress.Parse("127.0.1.5"), gateway.Url, TestConfigs.AppHost)).StatusCode);
    }

    [Fact]
    public async Task HeaderFilters_FrontDoorIdAndForwardedHostWildcard_AreAnded()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(WithRestrictions(TestConfigs.Static(backends.List), """
            { "rules": [ { "name": "frontDoor", "priority": 100, "action": "Allow", "serviceTag": "VirtualNetwork",
              "headers": { "X-Azure-FDID": [ "5b4f9a4e-1111-2222-3333-444455556666" ], "x-forwarded-host": [ "*.contoso.com" ] } } ] }
            """, trustedForwarders: """["127.0.0.0/8"]"""), output);

        async Task<HttpStatusCode> Send(string? fdid, string? host)
        {
            using var response = await LoopbackClient.GetAsync(Two, gateway.Url, TestConfigs.AppHost, r =>
            {
                if (fdid is not null)
                {
                    r.Headers.Add("X-Azure-FDID", fdid);
                }

                if (host is not null)
                {
                    r.Headers.Add("X-Forwarded-Host", host);
                }
            });
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await Send("5b4f9a4e-1111-2222-3333-444455556666", "www.contoso.com"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send("5b4f9a4e-1111-2222-3333-444455556666", "contoso.com"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send("00000000-0000-0000-0000-000000000000", "www.contoso.com"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(null, null));
    }

    [Fact]
    public async Task TrustedForwarder_ClientIsTheForwardedAddress_UntrustedPeerCannotSpoofIt()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(WithRestrictions(TestConfigs.Static(backends.List), """
            { "rules": [ { "name": "partners", "priority": 100, "action": "Allow", "ipAddress": "203.0.113.0/24" } ] }
            """, trustedForwarders: """["127.0.0.2"]"""), output);

        async Task<HttpStatusCode> Send(IPAddress from, string forwardedFor)
        {
            using var response = await LoopbackClient.GetAsync(from, gateway.Url, TestConfigs.AppHost, r => r.Headers.Add("X-Forwarded-For", forwardedFor));
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await Send(Two, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(Two, "198.51.100.1"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(Three, "203.0.113.7"));
    }

    [Fact]
    public async Task NoRules_EveryoneAllowed()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(WithRestrictions(TestConfigs.Static(backends.List), "{ \"rules\": [] }"), output);

        Assert.Equal(HttpStatusCode.OK, (await LoopbackClient.GetAsync(Three, gateway.Url, TestConfigs.AppHost)).StatusCode);
    }

    [Fact]
    public void Validate_BadRestrictions_AreReportedWithPaths()
    {
        var json = WithRestrictions(TestConfigs.Static([]).Replace("\"instanceCount\": 0 ", "\"instanceCount\": 1 "), """
            { "rules": [
              { "name": "a", "priority": 100, "action": "Allow", "ipAddress": "300.1.1.1/8" },
              { "name": "b", "priority": 100, "action": "Deny", "serviceTag": "Nowhere" },
              { "name": "c", "priority": 300, "action": "Deny", "ipAddress": "1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,1.1.1.6,1.1.1.7,1.1.1.8,1.1.1.9" },
              { "name": "d", "priority": 400, "action": "Allow", "headers": { "X-Custom": [ "x" ] } } ] }
            """);
        var errors = AseGateway.Configuration.ConfigLoader.Load(System.Text.Encoding.UTF8.GetBytes(json), "t", AppContext.BaseDirectory)
            .Errors.Select(e => e.ToString()).ToList();

        Assert.Contains("apps[0].accessRestrictions.rules[0].ipAddress: '300.1.1.1/8' is not an IP address or CIDR prefix", errors);
        Assert.Contains("apps[0].accessRestrictions.rules[1].priority: 100 is already the priority of apps[0].accessRestrictions.rules[0]", errors);
        Assert.Contains(errors, e => e.StartsWith("apps[0].accessRestrictions.rules[1].serviceTag: unknown service tag 'Nowhere'", StringComparison.Ordinal));
        Assert.Contains("apps[0].accessRestrictions.rules[2].ipAddress: a rule holds at most 8 ranges, not 9", errors);
        Assert.Contains(errors, e => e.StartsWith("apps[0].accessRestrictions.rules[3].headers.X-Custom: 'X-Custom' cannot be filtered", StringComparison.Ordinal));
    }
}
