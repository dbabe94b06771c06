using System.Text;
using AseGateway.Configuration;
using AseGateway.Model;
using BenchmarkDotNet.Attributes;

namespace AseGateway.Benchmarks;

/// <summary>A reload parses, validates and compiles the whole file: it must stay fast for large environments.</summary>
[MemoryDiagnoser]
public class SnapshotCompileBenchmarks
{
    private byte[] _json = [];

    [Params(10, 1000)]
    public int Apps { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var apps = new StringBuilder();
        for (var i = 0; i < Apps; i++)
        {
            apps.Append(i == 0 ? string.Empty : ",").Append($$"""{ "name": "app{{i}}", "plan": "p{{i % 3}}", "hostNames": ["app{{i}}.contoso.com"], "healthCheckPath": "/healthz" }""");
        }

        var workers = string.Join(",", Enumerable.Range(0, 16).Select(i => $$"""{ "address": "http://10.0.2.{{i + 4}}:80" }"""));
        _json = Encoding.UTF8.GetBytes($$"""
            {
              "name": "bench", "dnsSuffix": "ase.internal",
              "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ] },
              "workerPools": [ { "name": "WP1", "workerCount": 16, "workers": [ {{workers}} ] } ],
              "plans": [ { "name": "p0", "workerPool": "WP1", "instanceCount": 4 }, { "name": "p1", "workerPool": "WP1", "instanceCount": 4 }, { "name": "p2", "workerPool": "WP1", "instanceCount": 4 } ],
              "apps": [ {{apps}} ]
            }
            """);
    }

    [Benchmark]
    public object LoadValidateCompile()
    {
        var loaded = ConfigLoader.Load(_json, "bench", AppContext.BaseDirectory);
        return SnapshotCompiler.Compile(loaded, 1, DateTimeOffset.UnixEpoch);
    }
}
