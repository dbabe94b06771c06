using System.Net;
using AseGateway.Health;
using AseGateway.Instances;
using AseGateway.Model;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace AseGateway.Routing;

/// <summary>
/// Translates the current snapshot and the live instances into YARP routes and clusters: one route per app matching
/// its host names, one cluster per app whose destinations are the app's instances. YARP diffs what it is given, so
/// publishing an unchanged picture costs little and touches no connection.
/// </summary>
internal sealed class ProxyConfigPublisher
{
    /// <summary>The path every app route matches: all of them (apps are told apart by host name only).</summary>
    public const string AnyPath = "/{**catch-all}";

    private readonly InMemoryConfigProvider _provider;
    private readonly InstanceRegistry _registry;
    private readonly SnapshotHolder _snapshots;
    private readonly Lock _gate = new();

    public ProxyConfigPublisher(InMemoryConfigProvider provider, InstanceRegistry registry, SnapshotHolder snapshots)
    {
        _provider = provider;
        _registry = registry;
        _snapshots = snapshots;
    }

    public void Publish()
    {
        lock (_gate)
        {
            var snapshot = _snapshots.Current;
            var instances = _registry.Snapshot();
            var routes = new List<RouteConfig>(snapshot.Apps.Count);
            var clusters = new List<ClusterConfig>(snapshot.Apps.Count);
            foreach (var app in snapshot.Apps.Values)
            {
                routes.Add(BuildRoute(app));
                clusters.Add(BuildCluster(app, instances));
            }

            _provider.Update(routes, clusters);
        }
    }

    private static RouteConfig BuildRoute(AppModel app) => new()
    {
        RouteId = app.Name,
        ClusterId = app.ClusterId,
        Match = new RouteMatch { Hosts = [.. app.HostNames], Path = AnyPath },
    };

    private static ClusterConfig BuildCluster(AppModel app, IReadOnlyList<InstanceRuntime> instances)
    {
        var destinations = new Dictionary<string, DestinationConfig>(StringComparer.Ordinal);
        foreach (var instance in instances)
        {
            var state = instance.State;
            if (!string.Equals(state.Spec.AppName, app.Name, StringComparison.OrdinalIgnoreCase)
                || state.Address is not { } address
                || state.Phase == InstancePhase.Stopped)
            {
                continue;
            }

            destinations.Add(state.Id, new DestinationConfig { Address = address.AbsoluteUri });
        }

        return new ClusterConfig
        {
            ClusterId = app.ClusterId,
            LoadBalancingPolicy = app.LoadBalancingPolicy,
            Destinations = destinations,

            // Availability is decided by App Service's rules over our own health state, not by YARP's checks.
            HealthCheck = new Yarp.ReverseProxy.Configuration.HealthCheckConfig { AvailableDestinationsPolicy = InstanceAvailabilityPolicy.PolicyName },
            HttpRequest = new ForwarderRequestConfig
            {
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            },
        };
    }
}
