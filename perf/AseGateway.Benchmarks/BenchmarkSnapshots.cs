using System.Text;
using AseGateway.Configuration;
using AseGateway.Model;

namespace AseGateway.Benchmarks;

/// <summary>Compiles benchmark inputs the way a reload does: JSON text through the loader, validator and compiler.</summary>
internal static class BenchmarkSnapshots
{
    public static GatewaySnapshot Compile(string json)
    {
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "bench", AppContext.BaseDirectory);
        if (!loaded.IsValid)
        {
            throw new InvalidOperationException("benchmark configuration is invalid: " + string.Join("; ", loaded.Errors));
        }

        return SnapshotCompiler.Compile(loaded, 1, DateTimeOffset.UnixEpoch);
    }
}

/// <summary>Instances built for a benchmark have nobody to tell about address or availability changes.</summary>
internal sealed class NoInstanceObserver : Instances.IInstanceObserver
{
    public void AddressChanged(Instances.InstanceState instance)
    {
    }

    public void AvailabilityChanged(Instances.InstanceState instance)
    {
    }
}
