using AseGateway.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Forwarding;

/// <summary>
/// First stage of every request: pins the current snapshot and works out who the client is. Client-supplied
/// forwarding headers count only when the TCP peer is a trusted forwarder.
/// </summary>
internal sealed class GatewayRequestMiddleware
{
    private readonly RequestDelegate _next;
    private readonly SnapshotHolder _snapshots;

    public GatewayRequestMiddleware(RequestDelegate next, SnapshotHolder snapshots)
    {
        _next = next;
        _snapshots = snapshots;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var snapshot = _snapshots.Current;
        // Through the indexer, not HttpContext.Connection or HttpContext.Request: see FeatureLookup.
        var connection = context.Features.Find<IHttpConnectionFeature>();
        var peer = connection?.RemoteIpAddress is { } remote ? NetworkParsing.Normalize(remote) : null;
        var trusted = snapshot.TrustedForwarders.Contains(peer);
        var client = peer;
        int? clientPort = connection?.RemotePort ?? 0;
        var headers = context.Features.Find<IHttpRequestFeature>()!.Headers;
        if (trusted && headers.TryGetValue(AppServiceHeaders.ForwardedFor, out var forwardedFor)
            && ForwardedForParser.FindClient(forwardedFor, snapshot.TrustedForwarders) is { } forwardedClient)
        {
            client = forwardedClient;
            clientPort = null;
        }

        // A connection that serves one request at a time lends each the object of the one before.
        var holder = context.Features as IGatewayRequestFeatureHolder;
        var feature = holder?.GatewayRequest?.Begin(snapshot, peer, trusted, client, clientPort)
            ?? new GatewayRequestFeature(snapshot, peer, trusted, client, clientPort);
        if (holder is not null)
        {
            holder.GatewayRequest = feature;
        }

        context.Features[FeatureKey<GatewayRequestFeature>.Type] = feature;
        RangeLimit.Apply(headers, snapshot.Limits.MaxRanges);
        return _next(context);
    }
}
