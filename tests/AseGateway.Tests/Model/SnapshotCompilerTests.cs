using System.Text;
using AseGateway.Configuration;
using AseGateway.Model;

namespace AseGateway.Tests.Model;

public sealed class SnapshotCompilerTests
{
    private const string Config = """
        {
          "name": "contoso-ase",
          "dnsSuffix": "ASE.Internal",
          "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ] },
          "healthCheck": { "intervalSeconds": 30, "maxPingFailures": 4 },
          "workerPools": [
            { "name": "WP1", "workerCount": 3, "workers": [ { "address": "http://10.0.2.4" }, { "address": "http://10.0.2.5" }, { "address": "http://10.0.2.6" }, { "address": "http://10.0.2.7" } ] },
            { "name": "WP2", "workerCount": 2 }
          ],
          "plans": [
            { "name": "a", "workerPool": "WP1", "instanceCount": 1 },
            { "name": "b", "workerPool": "WP1", "instanceCount": 2 },
            { "name": "c", "workerPool": "WP2", "instanceCount": 2 }
          ],
          "apps": [
            { "name": "one", "plan": "a", "hostNames": [ "One.Contoso.com" ] },
            { "name": "two", "plan": "b", "healthCheck": { "maxPingFailures": 2 } },
            { "name": "three", "plan": "c", "run": { "command": "dotnet", "args": [ "x.dll" ] } },
            { "name": "four", "plan": "c", "run": { "command": "dotnet", "args": [ "y.dll" ] } }
          ]
        }
        """;

    [Fact]
    public void Compile_StaticPool_HandsWorkersToPlansInOrder()
    {
        var snapshot = Compile();

        Assert.Equal(new Uri("http://10.0.2.4/"), Instance(snapshot, "one/a/0").StaticAddress);
        Assert.Equal(new Uri("http://10.0.2.5/"), Instance(snapshot, "two/b/0").StaticAddress);
        Assert.Equal(new Uri("http://10.0.2.6/"), Instance(snapshot, "two/b/1").StaticAddress);
        Assert.Null(Instance(snapshot, "three/c/0").StaticAddress);
    }

    [Fact]
    public void Compile_AppsOfOnePlan_ShareInstanceIds_DistinctAcrossIndexes()
    {
        var snapshot = Compile();

        Assert.Equal(Instance(snapshot, "three/c/0").InstanceId, Instance(snapshot, "four/c/0").InstanceId);
        Assert.NotEqual(Instance(snapshot, "three/c/0").InstanceId, Instance(snapshot, "three/c/1").InstanceId);
        Assert.Matches("^[0-9a-f]{64}$", Instance(snapshot, "three/c/0").InstanceId);
    }

    [Fact]
    public void Compile_HostNames_LowerCasedWithDefaultName()
    {
        var snapshot = Compile();

        Assert.Equal(["one.contoso.com", "one.ase.internal"], snapshot.Apps["one"].HostNames);
        Assert.Equal("two.ase.internal", snapshot.Apps["two"].DefaultHostName);
    }

    [Fact]
    public void Compile_HealthSettings_AppOverridesEnvironmentOverridesDefaults()
    {
        var snapshot = Compile();

        Assert.Equal(4, snapshot.Apps["one"].HealthCheck.MaxPingFailures);
        Assert.Equal(2, snapshot.Apps["two"].HealthCheck.MaxPingFailures);
        Assert.Equal(TimeSpan.FromSeconds(30), snapshot.Apps["two"].HealthCheck.Interval);
        Assert.Equal(ConfigDefaults.MaxUnhealthyPercent, snapshot.Apps["two"].HealthCheck.MaxUnhealthyPercent);
        Assert.Equal(ConfigDefaults.LoadBalancingPolicy, snapshot.Apps["one"].LoadBalancingPolicy);
        Assert.True(snapshot.Apps["one"].ClientAffinityEnabled);
    }

    [Fact]
    public void Compile_Defaults_ManagementOnLoopback()
    {
        var snapshot = Compile();

        Assert.Equal("127.0.0.1", snapshot.Management.Address);
        Assert.Equal(9090, snapshot.Management.Port);
        Assert.Empty(snapshot.Management.ApiKeys);
        Assert.Equal("*", snapshot.Listeners[0].Address);
    }

    [Fact]
    public void Compile_RunCommand_ResolvedAgainstPath()
    {
        var launch = Instance(Compile(), "three/c/0").Launch!;

        Assert.True(Path.IsPathRooted(launch.FileName));
        Assert.Equal(["x.dll"], launch.Arguments);
    }

    private static GatewaySnapshot Compile()
    {
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(Config), "test", AppContext.BaseDirectory);
        Assert.True(loaded.IsValid, string.Join(Environment.NewLine, loaded.Errors));
        return SnapshotCompiler.Compile(loaded, 1, DateTimeOffset.UnixEpoch);
    }

    private static InstanceSpec Instance(GatewaySnapshot snapshot, string key) => snapshot.Instances.Single(i => i.Key == key);
}
