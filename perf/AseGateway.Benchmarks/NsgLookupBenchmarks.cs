using System.Net;
using System.Text;
using AseGateway.Configuration;
using AseGateway.Nsg;
using BenchmarkDotNet.Attributes;

namespace AseGateway.Benchmarks;

/// <summary>
/// The NSG decides every accepted connection. Lookup must not grow with the rule count: compare 1, 100 and 10,000
/// prefixes (the ns per lookup should stay nearly flat; allocations zero).
/// </summary>
[MemoryDiagnoser]
public class NsgLookupBenchmarks
{
    private NsgModel _nsg = null!;
    private readonly IPAddress _inside = IPAddress.Parse("10.1.2.3");
    private readonly IPAddress _listed = IPAddress.Parse("20.3.7.9");
    private readonly IPAddress _v6 = IPAddress.Parse("2001:db8:7::1");

    [Params(1, 100, 10_000)]
    public int Prefixes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Up to 3,997 rules (the priority range), each with several prefixes, to reach the prefix count.
        var rules = new StringBuilder("[");
        var perRule = Math.Max(1, Prefixes / 3997 + 1);
        var made = 0;
        for (var rule = 0; made < Prefixes; rule++)
        {
            var prefixes = new List<string>();
            for (var p = 0; p < perRule && made < Prefixes; p++, made++)
            {
                prefixes.Add(made % 2 == 0 ? $"\"20.{made / 250 % 250}.{made % 250}.0/24\"" : $"\"2001:db8:{made:x}::/48\"");
            }

            rules.Append(rule == 0 ? string.Empty : ",")
                .Append($$"""{ "name": "r{{rule}}", "priority": {{100 + rule}}, "access": "{{(rule % 2 == 0 ? "Deny" : "Allow")}}", "protocol": "Tcp", "sourceAddressPrefixes": [ {{string.Join(",", prefixes)}} ], "destinationPortRange": "*" }""");
        }

        var config = System.Text.Json.JsonSerializer.Deserialize(
            Encoding.UTF8.GetBytes($$"""{ "networkSecurityGroup": { "securityRules": {{rules.Append(']')}} } }"""),
            ConfigJsonContext.Default.GatewayConfig)!;
        _nsg = NsgCompiler.Compile(config.NetworkSecurityGroup)!;
        _nsg.Evaluate(_inside, 8443); // build the port's table outside the measurement
    }

    [Benchmark(Baseline = true)]
    public int VirtualNetworkSource() => _nsg.Evaluate(_inside, 8443);

    [Benchmark]
    public int ListedIpv4Source() => _nsg.Evaluate(_listed, 8443);

    [Benchmark]
    public int Ipv6Source() => _nsg.Evaluate(_v6, 8443);
}
