using System.Net;
using System.Net.Http.Json;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Nsg;

/// <summary>NSG rules on real connections from different loopback addresses.</summary>
public sealed class NsgConnectionTests(ITestOutputHelper output)
{
    private static readonly IPAddress Allowed = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Denied = IPAddress.Parse("127.0.0.3");

    private static string WithNsg(string json, string rules, string listenerAddress = "127.0.0.1") => TestConfigs.WithApiKey(json)
        .Replace("\"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http\"", $"\"address\": \"{listenerAddress}\", \"port\": 0, \"protocol\": \"Http\"")
        .Replace("\"workerPools\":", $$"""
            "networkSecurityGroup": { "securityRules": {{rules}} },
            "workerPools":
            """);

    [Fact]
    public async Task DeniedSource_ConnectionClosedWithoutBytes_AllowedSourceServed_DenialCounted()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = WithNsg(TestConfigs.Static(backends.List), """
            [ { "name": "DenyOneClient", "priority": 100, "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "127.0.0.3", "destinationPortRange": "*" } ]
            """);
        await using var gateway = await TestGateway.StartAsync(json, output);

        using var allowed = await LoopbackClient.GetAsync(Allowed, gateway.Url, TestConfigs.AppHost);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);

        Assert.True(await LoopbackClient.IsRefusedAsync(Denied, gateway.Url));
        await Assert.ThrowsAsync<HttpRequestException>(() => LoopbackClient.GetAsync(Denied, gateway.Url, TestConfigs.AppHost));
        Assert.Equal(0, backends.List[0].RequestCount - 1);

        using var api = gateway.ManagementClient();
        var rules = await api.GetFromJsonAsync<List<AseGateway.Management.NsgRuleDto>>("/api/nsg");
        Assert.True(rules!.Single(r => r.Name == "DenyOneClient").DeniedConnections >= 2);
    }

    [Fact]
    public async Task DefaultRules_WithoutMatchingUserRule_LoopbackIsVirtualNetwork()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = WithNsg(TestConfigs.Static(backends.List), """
            [ { "name": "DenyElsewhere", "priority": 100, "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "203.0.113.0/24", "destinationPortRange": "*" } ]
            """);
        await using var gateway = await TestGateway.StartAsync(json, output);

        using var response = await LoopbackClient.GetAsync(Denied, gateway.Url, TestConfigs.AppHost);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Ipv6Loopback_IsMatchedByIpv6Rules()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = WithNsg(TestConfigs.Static(backends.List), """
            [ { "name": "DenyV6Loopback", "priority": 100, "access": "Deny", "protocol": "*", "sourceAddressPrefix": "::1/128", "destinationPortRange": "*" } ]
            """, listenerAddress: "*");
        await using var gateway = await TestGateway.StartAsync(json, output);
        var v6 = new Uri($"http://[::1]:{gateway.Url.Port}/");

        await Assert.ThrowsAsync<HttpRequestException>(() => LoopbackClient.GetAsync(IPAddress.IPv6Loopback, v6, TestConfigs.AppHost));
        using var v4 = await LoopbackClient.GetAsync(Allowed, new Uri($"http://127.0.0.1:{gateway.Url.Port}/"), TestConfigs.AppHost);
        Assert.Equal(HttpStatusCode.OK, v4.StatusCode);
    }

    [Fact]
    public async Task Explain_ThroughTheApi_NamesTheDecidingRule()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = WithNsg(TestConfigs.Static(backends.List), """
            [ { "name": "DenyBadRange", "priority": 200, "access": "Deny", "protocol": "*", "sourceAddressPrefix": "203.0.113.0/24", "destinationPortRange": "*" } ]
            """);
        await using var gateway = await TestGateway.StartAsync(json, output);
        using var api = gateway.ManagementClient();

        var bad = await api.GetFromJsonAsync<AseGateway.Management.NsgExplanationDto>("/api/nsg/explain?source=203.0.113.7&port=8443");
        var inside = await api.GetFromJsonAsync<AseGateway.Management.NsgExplanationDto>("/api/nsg/explain?source=10.0.0.5&port=8443");

        Assert.Equal(("DenyBadRange", "Deny"), (bad!.Rule, bad.Access));
        Assert.Equal(("AllowVNetInBound", "Allow"), (inside!.Rule, inside.Access));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await api.GetAsync("/api/nsg/explain?source=nope&port=1")).StatusCode);
    }
}
