using System.Net;
using System.Text;
using AseGateway.Configuration;
using AseGateway.Nsg;

namespace AseGateway.Tests.Nsg;

public sealed class NsgModelTests
{
    private static NsgModel Compile(string rulesJson, string tags = "{}")
    {
        var config = System.Text.Json.JsonSerializer.Deserialize(
            Encoding.UTF8.GetBytes($$"""{ "networkSecurityGroup": { "serviceTags": {{tags}}, "securityRules": {{rulesJson}} } }"""),
            ConfigJsonContext.Default.GatewayConfig)!;
        return NsgCompiler.Compile(config.NetworkSecurityGroup)!;
    }

    private static string Decide(NsgModel nsg, string address, int port)
    {
        var index = nsg.Evaluate(IPAddress.Parse(address), port);
        return index < 0 ? "none" : $"{nsg.Rules[index].Name}:{nsg.Rules[index].Access}";
    }

    [Theory]
    [InlineData("127.0.0.2", 8080, "AllowOne:Allow")]
    [InlineData("127.0.0.3", 8080, "DenyLoopback:Deny")]
    [InlineData("::ffff:127.0.0.3", 8080, "DenyLoopback:Deny")]
    [InlineData("10.1.2.3", 8080, "AllowVNetInBound:Allow")]
    [InlineData("168.63.129.16", 8080, "AllowAzureLoadBalancerInBound:Allow")]
    [InlineData("8.8.8.8", 8080, "DenyAllInBound:Deny")]
    [InlineData("8.8.8.8", 8443, "AllowInternetTls:Allow")]
    [InlineData("10.1.2.3", 8443, "AllowVNetInBound:Allow")]
    [InlineData("2001:db8::1", 8443, "AllowInternetTls:Allow")]
    [InlineData("::1", 8080, "AllowVNetInBound:Allow")]
    [InlineData("127.0.0.4", 9000, "DenyLoopback:Deny")]
    public void Evaluate_FirstMatchByPriority_ThenAzureDefaults(string address, int port, string expected)
    {
        var nsg = Compile("""
            [
              { "name": "DenyLoopback", "priority": 200, "access": "Deny", "protocol": "*", "sourceAddressPrefix": "127.0.0.0/8", "destinationPortRange": "*" },
              { "name": "AllowOne", "priority": 100, "access": "Allow", "protocol": "Tcp", "sourceAddressPrefixes": [ "127.0.0.2" ], "destinationPortRanges": [ "8000-8100" ] },
              { "name": "AllowInternetTls", "priority": 300, "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "Internet", "destinationPortRange": "8443" },
              { "name": "UdpOnly", "priority": 110, "access": "Deny", "protocol": "Udp", "sourceAddressPrefix": "*", "destinationPortRange": "*" }
            ]
            """);

        Assert.Equal(expected, Decide(nsg, address, port));
    }

    [Fact]
    public void Evaluate_CustomServiceTag_AndRedefinedVirtualNetwork()
    {
        var nsg = Compile(
            """[ { "name": "AllowWaf", "priority": 100, "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "WafSubnet", "destinationPortRange": "*" } ]""",
            """{ "WafSubnet": [ "10.0.1.0/24" ], "VirtualNetwork": [ "10.0.0.0/16" ] }""");

        Assert.Equal("AllowWaf:Allow", Decide(nsg, "10.0.1.9", 443));
        Assert.Equal("AllowVNetInBound:Allow", Decide(nsg, "10.0.7.9", 443));
        Assert.Equal("DenyAllInBound:Deny", Decide(nsg, "10.1.0.1", 443));
        Assert.Equal("DenyAllInBound:Deny", Decide(nsg, "127.0.0.1", 443));
    }

    [Fact]
    public void Evaluate_TenThousandPrefixes_StillExact()
    {
        var rules = new StringBuilder("[");
        for (var i = 0; i < 4000; i++)
        {
            // Even /24s of 20.x.y.0 are denied one by one at priorities 100..4095 (pairs share a rule).
            rules.Append(i == 0 ? string.Empty : ",").Append($$"""{ "name": "r{{i}}", "priority": {{100 + i}}, "access": "{{(i % 2 == 0 ? "Deny" : "Allow")}}", "protocol": "Tcp", "sourceAddressPrefixes": [ "20.{{i / 250}}.{{i % 250}}.0/24", "21.{{i / 250}}.{{i % 250}}.0/24", "2001:db8:{{i:x}}::/48" ], "destinationPortRange": "*" }""");
        }

        var nsg = Compile(rules.Append(']').ToString());

        Assert.Equal("r0:Deny", Decide(nsg, "20.0.0.7", 80));
        Assert.Equal("r1:Allow", Decide(nsg, "21.0.1.200", 80));
        Assert.Equal("r3999:Allow", Decide(nsg, "20.15.249.1", 80));
        Assert.Equal("r2748:Deny", Decide(nsg, $"2001:db8:{2748:x}::1", 80));
        Assert.Equal("DenyAllInBound:Deny", Decide(nsg, "20.16.0.1", 80));
    }

    [Fact]
    public void Explain_SaysWhichRuleAndWhy()
    {
        var nsg = Compile("""[ { "name": "DenyBadRange", "priority": 200, "access": "Deny", "protocol": "*", "sourceAddressPrefix": "203.0.113.0/24", "destinationPortRange": "*" } ]""");

        var decision = nsg.Explain(IPAddress.Parse("203.0.113.9"), 8443);

        Assert.Equal("DenyBadRange", decision.Rule);
        Assert.Equal(SecurityRuleAccess.Deny, decision.Access);
        Assert.Equal("203.0.113.0/24", decision.MatchedSource);
        Assert.Contains("priority 200", decision.Reason);
    }

    [Fact]
    public void Validate_BadRules_AreReportedWithPaths()
    {
        const string json = """
            {
              "name": "x", "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ] },
              "networkSecurityGroup": { "securityRules": [
                { "name": "a", "priority": 100, "access": "Allow", "sourceAddressPrefix": "10.0.0.0/33", "destinationPortRange": "80" },
                { "name": "b", "priority": 100, "access": "Deny", "sourceAddressPrefix": "Contoso", "destinationPortRange": "80-70" },
                { "name": "c", "priority": 5000, "access": "Deny", "sourceAddressPrefix": "*", "destinationPortRange": "*" }
              ] },
              "workerPools": [ { "name": "WP1", "workerCount": 1 } ], "plans": [], "apps": []
            }
            """;
        var errors = ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "t", AppContext.BaseDirectory).Errors.Select(e => e.ToString()).ToList();

        Assert.Contains("networkSecurityGroup.securityRules[0].sourceAddressPrefix: '10.0.0.0/33' is not an IP address, CIDR prefix, service tag or *", errors);
        Assert.Contains("networkSecurityGroup.securityRules[1].priority: 100 is already the priority of networkSecurityGroup.securityRules[0]: priorities are unique", errors);
        Assert.Contains(errors, e => e.StartsWith("networkSecurityGroup.securityRules[1].sourceAddressPrefix: unknown service tag 'Contoso'", StringComparison.Ordinal));
        Assert.Contains("networkSecurityGroup.securityRules[1].destinationPortRange: '80-70' is not a port, a range such as 8000-8999, or *", errors);
        Assert.Contains("networkSecurityGroup.securityRules[2].priority: must be between 100 and 4096, not 5000", errors);
    }
}
