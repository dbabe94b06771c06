using AseGateway.Instances;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Health;

/// <summary>
/// Plugs App Service's availability rules into YARP. YARP calls this only when a cluster's destinations or their
/// health change (never per request); the result is cached in the cluster's state and read by load balancing.
/// </summary>
internal sealed class InstanceAvailabilityPolicy : IAvailableDestinationsPolicy
{
    public const string PolicyName = "AseInstanceAvailability";

    private readonly InstanceRegistry _registry;
    private readonly TimeProvider _time;

    public InstanceAvailabilityPolicy(InstanceRegistry registry, TimeProvider time)
    {
        _registry = registry;
        _time = time;
    }

    public string Name => PolicyName;

    public IReadOnlyList<DestinationState> GetAvailalableDestinations(ClusterConfig config, IReadOnlyList<DestinationState> allDestinations)
    {
        var states = new InstanceState?[allDestinations.Count];
        for (var i = 0; i < states.Length; i++)
        {
            states[i] = _registry.Find(allDestinations[i].DestinationId);
        }

        var available = new List<int>(states.Length);
        AvailabilityRules.Select(states, _time.GetUtcNow(), available);
        var result = new DestinationState[available.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = allDestinations[available[i]];
        }

        return result;
    }
}
