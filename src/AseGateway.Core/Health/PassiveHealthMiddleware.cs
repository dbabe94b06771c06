using System.Net.Sockets;
using AseGateway.Instances;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Health;

/// <summary>
/// Passive health: when a request could not even connect to its instance, or the connection was reset or closed
/// before any response (a crashed or killed process), the instance leaves rotation at once instead of after its next
/// failed pings (which may be a minute apart).
/// </summary>
internal sealed class PassiveHealthMiddleware
{
    private readonly RequestDelegate _next;
    private readonly InstanceManager _instances;

    public PassiveHealthMiddleware(RequestDelegate next, InstanceManager instances)
    {
        _next = next;
        _instances = instances;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        await _next(context);
        if (context.Features.Get<IForwarderErrorFeature>() is { Error: ForwarderError.Request } error
            && IsConnectFailure(error.Exception)
            && context.GetReverseProxyFeature().ProxiedDestination is { } destination)
        {
            _instances.ReportConnectionFailure(destination.DestinationId);
        }
    }

    internal static bool IsConnectFailure(Exception? exception)
    {
        if (exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded })
        {
            return true;
        }

        // A reset arrives as HttpRequestException → IOException → SocketException.
        for (var inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException)
            {
                return true;
            }
        }

        return false;
    }
}
