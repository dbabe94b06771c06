using System.Net.Sockets;
using AseGateway.Forwarding;
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
/// <remarks>
/// Not a pipeline stage of its own: <see cref="Forwarding.RetryMiddleware"/> calls it after every attempt, so one
/// awaiting stage (one state machine per request) serves both — and each failed attempt is reported before the
/// retry clears its trace.
/// </remarks>
internal static class PassiveHealth
{
    /// <summary>Takes the attempt's instance out of rotation when the forwarder could not reach it.</summary>
    public static void ReportAttempt(HttpContext context, GatewayRequestFeature? gateway, InstanceManager instances)
    {
        var forwarderError = gateway is null ? context.Features.Find<IForwarderErrorFeature>() : gateway.ForwarderError(context);
        if (forwarderError is { Error: ForwarderError.Request } error
            && IsConnectFailure(error.Exception)
            && context.ReverseProxyFeature().ProxiedDestination is { } destination)
        {
            instances.ReportConnectionFailure(destination.DestinationId);
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
