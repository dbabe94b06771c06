using System.Net;
using AseGateway.Model;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Forwarding;

/// <summary>
/// What the gateway decided about one request, set once at its start: the snapshot every later stage reads (so a
/// reload mid-request changes nothing for it) and the client's address.
/// </summary>
/// <remarks>
/// It also keeps what later stages would otherwise look up again in the request's features: YARP's proxy feature and
/// the fast path's forwarding outcome. A lookup in Kestrel's collection tests the key against each of its known
/// features (about forty) before the list of extra ones; one that finds nothing goes on through the connection's
/// collection as well, and the forwarder-error feature is absent from every request that succeeds.
/// </remarks>
internal sealed class GatewayRequestFeature
{
    private IReverseProxyFeature? _proxy;
    private bool _onFastPath;
    private IForwarderErrorFeature? _fastPathError;

    public GatewayRequestFeature(GatewaySnapshot snapshot, IPAddress? peerAddress, bool peerIsTrustedForwarder, IPAddress? clientAddress, int? clientPort) =>
        Begin(snapshot, peerAddress, peerIsTrustedForwarder, clientAddress, clientPort);

    public GatewaySnapshot Snapshot { get; private set; } = null!;

    /// <summary>The TCP peer (IPv4-mapped addresses as IPv4).</summary>
    public IPAddress? PeerAddress { get; private set; }

    public bool PeerIsTrustedForwarder { get; private set; }

    /// <summary>The peer, or the right-most untrusted X-Forwarded-For hop when the peer is a trusted forwarder.</summary>
    public IPAddress? ClientAddress { get; private set; }

    /// <summary>Known only when the client is the TCP peer.</summary>
    public int? ClientPort { get; private set; }

    /// <summary>The app the request was routed to; set by the proxy pipeline.</summary>
    public AppModel? App { get; set; }

    /// <summary>The instance (spec key) the request was forwarded to; set just before forwarding.</summary>
    public string? Instance { get; set; }

    /// <summary>When forwarding began (<see cref="System.Diagnostics.Stopwatch"/> ticks), or 0 when it did not.</summary>
    public long UpstreamStarted { get; set; }

    /// <summary>When the request metrics stage first saw the request (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    public long RequestStarted { get; set; }

    /// <summary>The access log's byte counters for this request, when the log is on (set by the request metrics stage).</summary>
    public Observability.AccessLogRecording AccessLog { get; set; }

    /// <summary>
    /// Whether every request header has exactly one value, all ASCII: worked out by <see cref="HeaderSanityMiddleware"/>
    /// in the pass it makes anyway, so the fast path's eligibility needs no second enumeration (each after the first
    /// boxes an enumerator); null when nothing looked. It holds because no stage between the two adds or changes a
    /// request header (the range limit, which only removes one, runs before): a stage that does must reset it to null.
    /// </summary>
    public bool? HeadersAreSingleAscii { get; set; }

    /// <summary>
    /// The instance id of the client's ARRAffinity cookie, read once by <see cref="Affinity.ArrAffinity.Token"/>: the
    /// affinity stage asks before balancing and the response asks again whether to set the cookie, and each read walks
    /// every cookie of the request and allocates the value.
    /// </summary>
    public string? AffinityToken { get; set; }

    /// <summary>Whether <see cref="AffinityToken"/> was read (null then means the client sent none).</summary>
    public bool AffinityTokenRead { get; set; }

    /// <summary>Set when a gateway stage answered the request itself: its access-log sub-status (see Observability.AccessLogSubStatus).</summary>
    public int AnsweredBy { get; set; }

    /// <summary>
    /// Set by <see cref="RetryMiddleware"/> when the forwarding stage finishes each attempt itself: the fast path calls
    /// <see cref="IAttemptFinisher.FinishAttemptAsync"/> at the end of its forwarding (or of YARP's, which it wraps), so
    /// that the retry stage need not await every request. Null otherwise.
    /// </summary>
    public IAttemptFinisher? AttemptFinisher { get; private set; }

    /// <summary>The attempt under way (from 1), set by <see cref="RetryMiddleware"/>.</summary>
    public int Attempt { get; private set; }

    /// <summary>Attempts the request may take: 1 unless it may be retried.</summary>
    public int MaxAttempts { get; private set; }

    /// <summary>The instances a retry may still choose among (the failed ones taken out).</summary>
    public IReadOnlyList<DestinationState>? RetryCandidates { get; private set; }

    /// <summary>Whether the attempt under way was finished (reported, and retried or not).</summary>
    public bool AttemptFinished { get; set; }

    /// <summary>
    /// What is known of a new request, and nothing else: every other member back to its default. The constructor's
    /// work, and how a connection that serves one request at a time reuses one object for all of them (<see
    /// cref="IGatewayRequestFeatureHolder"/>).
    /// </summary>
    internal GatewayRequestFeature Begin(GatewaySnapshot snapshot, IPAddress? peerAddress, bool peerIsTrustedForwarder, IPAddress? clientAddress, int? clientPort)
    {
        Clear();
        Snapshot = snapshot;
        PeerAddress = peerAddress;
        PeerIsTrustedForwarder = peerIsTrustedForwarder;
        ClientAddress = clientAddress;
        ClientPort = clientPort;
        return this;
    }

    /// <summary>
    /// Every member back to its default, once the request has ended, so that a connection keeping the object between
    /// requests keeps nothing of the last one alive: not its snapshot (a reload's predecessor), its app or the proxy's
    /// models. A member added here must be reset here too: a test sets every field and checks that this clears it.
    /// </summary>
    internal void Clear()
    {
        Snapshot = null!;
        PeerAddress = null;
        PeerIsTrustedForwarder = false;
        ClientAddress = null;
        ClientPort = null;
        _proxy = null;
        _onFastPath = false;
        _fastPathError = null;
        App = null;
        Instance = null;
        UpstreamStarted = 0;
        RequestStarted = 0;
        AccessLog = default;
        HeadersAreSingleAscii = null;
        AffinityToken = null;
        AffinityTokenRead = false;
        AnsweredBy = 0;
        AttemptFinisher = null;
        Attempt = 0;
        MaxAttempts = 0;
        RetryCandidates = null;
        AttemptFinished = false;
    }

    /// <summary>
    /// Attempt 1 of at most <paramref name="maxAttempts"/>; with a <paramref name="finisher"/>, the forwarding stage
    /// finishes each attempt through it (null: the retry stage awaits and finishes them itself).
    /// </summary>
    public void FinishAttemptsWith(IAttemptFinisher? finisher, int maxAttempts, IReadOnlyList<DestinationState> candidates)
    {
        AttemptFinisher = finisher;
        MaxAttempts = maxAttempts;
        RetryCandidates = candidates;
        Attempt = 1;
        AttemptFinished = false;
    }

    /// <summary>A retry among <paramref name="candidates"/>: the next attempt, not yet finished.</summary>
    public void NextAttempt(IReadOnlyList<DestinationState> candidates)
    {
        RetryCandidates = candidates;
        Attempt++;
        AttemptFinished = false;
    }

    /// <summary>YARP's per-request proxy state, looked up once (it is set once, before the proxy pipeline runs).</summary>
    public IReverseProxyFeature ProxyFeature(HttpContext context) => _proxy ??= context.ReverseProxyFeature();

    /// <summary>
    /// Called by the fast path for each forwarding attempt: whether it forwards this one itself (and then records a
    /// failure through <see cref="FastPathFailed"/>) or hands it to YARP's forwarder.
    /// </summary>
    public void BeginAttempt(bool onFastPath)
    {
        _onFastPath = onFastPath;
        _fastPathError = null;
    }

    /// <summary>The fast path's failure, which it also sets as the request's <see cref="IForwarderErrorFeature"/>.</summary>
    public void FastPathFailed(IForwarderErrorFeature error) => _fastPathError = error;

    /// <summary>
    /// The request's <see cref="IForwarderErrorFeature"/>, or null: kept here when the fast path forwarded the last
    /// attempt, looked up when YARP's forwarder did (it sets the feature itself).
    /// </summary>
    public IForwarderErrorFeature? ForwarderError(HttpContext context) =>
        _onFastPath ? _fastPathError : context.Features.Find<IForwarderErrorFeature>();
}

/// <summary>Finishes a forwarding attempt once the stage that forwarded it is done: reports it, and retries it when it may.</summary>
internal interface IAttemptFinisher
{
    /// <summary>Completed at once unless the attempt is retried; then completed when the retry is.</summary>
    Task FinishAttemptAsync(HttpContext context, GatewayRequestFeature gateway);
}

/// <summary>
/// A connection that serves its requests one at a time, each only after the one before has ended (its response sent,
/// its completion callbacks run): it keeps one <see cref="GatewayRequestFeature"/> for all of them, as Kestrel keeps
/// one context per HTTP/1.1 connection, instead of a new one for each request (about 170 bytes, a third of what an
/// HTTP/1.1 request allocated). Nothing in the gateway holds the feature past its request's end; the connection
/// clears it then (<see cref="GatewayRequestFeature.Clear"/>).
/// </summary>
internal interface IGatewayRequestFeatureHolder
{
    /// <summary>The connection's feature object, null until its first request made one.</summary>
    GatewayRequestFeature? GatewayRequest { get; set; }
}
