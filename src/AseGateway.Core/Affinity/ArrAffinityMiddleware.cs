using AseGateway.Forwarding;
using AseGateway.Instances;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Affinity;

/// <summary>
/// Proxy-pipeline stage before load balancing: when the client carries an
/// ARRAffinity cookie for an instance that is still available, narrows the choice to that instance. A cookie for an
/// instance that is gone or unhealthy is ignored: the client is re-balanced and gets a new cookie.
/// </summary>
internal sealed class ArrAffinityMiddleware
{
    private readonly RequestDelegate _next;
    private readonly InstanceRegistry _registry;

    public ArrAffinityMiddleware(RequestDelegate next, InstanceRegistry registry)
    {
        _next = next;
        _registry = registry;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var gateway = context.Features.Find<GatewayRequestFeature>();
        if (gateway is null)
        {
            return _next(context);
        }

        if (gateway.App?.ClientAffinityEnabled != true || ArrAffinity.Token(context.Request, gateway) is not { } token)
        {
            return _next(context);
        }

        var proxy = gateway.ProxyFeature(context);
        var available = proxy.AvailableDestinations;
        for (var i = 0; i < available.Count; i++)
        {
            var destination = available[i];
            if (_registry.Find(destination.DestinationId) is { } instance
                && string.Equals(instance.Spec.InstanceId, token, StringComparison.OrdinalIgnoreCase))
            {
                // A DestinationState is a one-item list of itself: pinning allocates nothing.
                proxy.AvailableDestinations = destination;
                break;
            }
        }

        return _next(context);
    }
}
