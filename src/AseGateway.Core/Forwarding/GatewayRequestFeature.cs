using System.Net;
using AseGateway.Model;

namespace AseGateway.Forwarding;

/// <summary>
/// What the gateway decided about one request, set once at its start: the snapshot every later stage reads (so a
/// reload mid-request changes nothing for it) and the client's address.
/// </summary>
internal sealed class GatewayRequestFeature
{
    public GatewayRequestFeature(GatewaySnapshot snapshot, IPAddress? peerAddress, bool peerIsTrustedForwarder, IPAddress? clientAddress, int? clientPort)
    {
        Snapshot = snapshot;
        PeerAddress = peerAddress;
        PeerIsTrustedForwarder = peerIsTrustedForwarder;
        ClientAddress = clientAddress;
        ClientPort = clientPort;
    }

    public GatewaySnapshot Snapshot { get; }

    /// <summary>The TCP peer (IPv4-mapped addresses as IPv4).</summary>
    public IPAddress? PeerAddress { get; }

    public bool PeerIsTrustedForwarder { get; }

    /// <summary>The peer, or the right-most untrusted X-Forwarded-For hop when the peer is a trusted forwarder.</summary>
    public IPAddress? ClientAddress { get; }

    /// <summary>Known only when the client is the TCP peer.</summary>
    public int? ClientPort { get; }

    /// <summary>The app the request was routed to; set by the proxy pipeline.</summary>
    public AppModel? App { get; set; }

    /// <summary>The instance (spec key) the request was forwarded to; set just before forwarding.</summary>
    public string? Instance { get; set; }

    /// <summary>When forwarding began (<see cref="System.Diagnostics.Stopwatch"/> ticks), or 0 when it did not.</summary>
    public long UpstreamStarted { get; set; }

    /// <summary>
    /// Whether every request header has exactly one value, all ASCII: worked out by <see cref="HeaderSanityMiddleware"/>
    /// in the pass it makes anyway, so the fast path's eligibility needs no second enumeration (each after the first
    /// boxes an enumerator); null when nothing looked. It holds because no stage between the two adds or changes a
    /// request header (the range limit, which only removes one, runs before): a stage that does must reset it to null.
    /// </summary>
    public bool? HeadersAreSingleAscii { get; set; }

    /// <summary>Set when a gateway stage answered the request itself: its access-log sub-status (see Observability.AccessLogSubStatus).</summary>
    public int AnsweredBy { get; set; }
}
