using System.Net;
using AseGateway.Access;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Benchmarks;

/// <summary>
/// Access restrictions run on every request of an app that has any. A realistic rule list: scanners denied first,
/// an office range, Front Door (service tag + X-Azure-FDID), a partner behind a proxy (X-Forwarded-For), then the
/// implicit deny. Cases: decided by the first rule, by a header rule after four address rules, and by the default.
/// </summary>
[MemoryDiagnoser]
public class AccessRestrictionBenchmarks
{
    private AccessRestrictionModel _rules = null!;
    private readonly IPAddress _scanner = IPAddress.Parse("198.51.100.23");
    private readonly IPAddress _frontDoor = IPAddress.Parse("20.50.60.70");
    private readonly IPAddress _stranger = IPAddress.Parse("192.0.2.99");
    private readonly HeaderDictionary _plainHeaders = new() { ["User-Agent"] = "Mozilla/5.0", ["Accept"] = "*/*" };
    private readonly HeaderDictionary _frontDoorHeaders = new()
    {
        ["User-Agent"] = "Mozilla/5.0",
        ["X-Azure-FDID"] = "5b4f9a4e-3a0d-4c5e-9f3c-1a2b3c4d5e6f",
        ["X-Forwarded-For"] = "203.0.113.50, 20.50.60.70",
    };

    [GlobalSetup]
    public void Setup()
    {
        var snapshot = BenchmarkSnapshots.Compile("""
            {
              "name": "bench", "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ] },
              "networkSecurityGroup": { "serviceTags": { "FrontDoorBackend": [ "20.50.0.0/16", "2603:1000::/40" ] }, "securityRules": [] },
              "workerPools": [ { "name": "WP1", "workerCount": 1, "workers": [ { "address": "http://10.0.2.4:80" } ] } ],
              "plans": [ { "name": "p", "workerPool": "WP1", "instanceCount": 1 } ],
              "apps": [ { "name": "shop", "plan": "p", "hostNames": [ "shop.contoso.com" ],
                "accessRestrictions": { "rules": [
                  { "name": "scanners", "priority": 100, "action": "Deny", "ipAddress": "198.51.100.0/24,203.0.113.128/25" },
                  { "name": "office", "priority": 200, "action": "Allow", "ipAddress": "10.20.0.0/16,10.21.0.0/16,172.16.5.0/24" },
                  { "name": "vpn", "priority": 210, "action": "Allow", "ipAddress": "100.64.0.0/10" },
                  { "name": "partner", "priority": 300, "action": "Allow", "ipAddress": "Any",
                    "headers": { "X-Forwarded-For": [ "192.168.77.0/24" ] } },
                  { "name": "frontDoor", "priority": 400, "action": "Allow", "serviceTag": "FrontDoorBackend",
                    "headers": { "X-Azure-FDID": [ "5b4f9a4e-3a0d-4c5e-9f3c-1a2b3c4d5e6f" ] } } ] } } ]
            }
            """);
        _rules = snapshot.Apps["shop"].AccessRestrictions;
    }

    [Benchmark(Baseline = true)]
    public int FirstRuleDenies() => (int)_rules.Evaluate(_scanner, _plainHeaders).Action;

    [Benchmark]
    public int FrontDoorHeaderRuleAllows() => (int)_rules.Evaluate(_frontDoor, _frontDoorHeaders).Action;

    [Benchmark]
    public int NoRuleMatchesDefaultDenies() => (int)_rules.Evaluate(_stranger, _plainHeaders).Action;
}
