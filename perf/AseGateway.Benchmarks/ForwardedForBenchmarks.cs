using AseGateway.Forwarding;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Benchmarks;

/// <summary>Client-address resolution runs on every request from a trusted forwarder.</summary>
[MemoryDiagnoser]
public class ForwardedForBenchmarks
{
    private readonly IpPrefixSet _trusted = IpPrefixSet.Parse(["10.0.1.0/24", "10.0.2.0/24", "2001:db8::/32"]);
    private readonly StringValues _oneHop = new("203.0.113.7");
    private readonly StringValues _chain = new("6.6.6.6, 203.0.113.7, 10.0.2.9, 10.0.1.5");

    [Benchmark(Baseline = true)]
    public object? OneHop() => ForwardedForParser.FindClient(_oneHop, _trusted);

    [Benchmark]
    public object? ChainThroughTwoForwarders() => ForwardedForParser.FindClient(_chain, _trusted);
}
