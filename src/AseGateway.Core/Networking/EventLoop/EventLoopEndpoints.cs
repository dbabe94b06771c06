using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// The listeners that run on the event loops: the clear-text HTTP/1.1 ones. HTTP/2 listeners, h2c and TLS alike, stay
/// on Kestrel's socket transport, where the inline model costs more than it saves. Paired rounds, full feature set:
/// HTTP/1.1 on the loops -16% CPU per request; h2c +12% (its streams' frames are written from pool threads and each
/// flush became a send of its own, where the socket transport's queued sender coalesces them) and HTTP/2 + TLS +13%;
/// queuing their sends to the thread pool on the loops, to coalesce them again, still cost 1.5% and 4.5% more.
/// Kestrel names a listener to its transport only by end point, so an explicit address is known by its end point
/// object (a port of 0 included) and "localhost" or "*" by address and port (Kestrel binds those as fresh end points
/// and gives neither a free port).
/// </summary>
internal sealed class EventLoopEndpoints
{
    private readonly HashSet<EndPoint> _exact = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<IPEndPoint> _byValue = [];
    private readonly Lock _lock = new();

    public void Add(ListenOptions options)
    {
        if (options.EndPoint is not IPEndPoint endpoint)
        {
            return;
        }

        lock (_lock)
        {
            _exact.Add(endpoint);
            if (endpoint.Port == 0)
            {
                return;
            }

            _byValue.Add(endpoint);

            // ListenLocalhost binds both loopbacks and ListenAnyIP falls back from [::] to 0.0.0.0, each as a new end
            // point of the same port.
            if (endpoint.Address.Equals(IPAddress.Loopback))
            {
                _byValue.Add(new IPEndPoint(IPAddress.IPv6Loopback, endpoint.Port));
            }
            else if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                _byValue.Add(new IPEndPoint(IPAddress.Any, endpoint.Port));
            }
        }
    }

    public bool Contains(EndPoint endpoint)
    {
        lock (_lock)
        {
            return _exact.Contains(endpoint) || (endpoint is IPEndPoint { Port: not 0 } ip && _byValue.Contains(ip));
        }
    }
}
