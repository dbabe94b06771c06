using System.Collections.Frozen;
using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Routing;

/// <summary>
/// Runs just before endpoint routing: a request whose host is one an app names exactly gets that app's YARP endpoint
/// from one table lookup and goes straight into its proxy pipeline, past routing (which would skip matching for a set
/// endpoint) and the endpoint middleware (which would only call the same delegate, after looking for authorization,
/// CORS and antiforgery metadata an app route never carries).
/// Every app route matches its hosts and any path (<see cref="ProxyConfigPublisher"/>), and an exact host outranks a
/// wildcard one in routing too, so the answer is the one routing's matcher would give — without its candidate sets,
/// host policy and the catch-all's route values (about 190 bytes per request). Wildcard hosts, IP literals and
/// unknown hosts are left to routing.
/// </summary>
internal sealed class ExactHostRoutingMiddleware
{
    private readonly RequestDelegate _next;
    private readonly ExactHostEndpoints _endpoints;

    public ExactHostRoutingMiddleware(RequestDelegate next, ExactHostEndpoints endpoints)
    {
        _next = next;
        _endpoints = endpoints;
    }

    public Task InvokeAsync(HttpContext context)
    {
        // HttpRequest.Host's answer, and below what GetEndpoint() and SetEndpoint() would read and set, through the
        // indexer: they ask for their feature with IFeatureCollection.Get<T>, a generic virtual call (see FeatureLookup).
        var host = HostString.FromUriComponent(context.Features.Find<IHttpRequestFeature>()!.Headers.Host.ToString());
        if (_endpoints.Find(host) is not { RequestDelegate: { } proxy } endpoint)
        {
            return _next(context);
        }

        var feature = context.Features.Find<IEndpointFeature>();
        if (feature?.Endpoint is not null)
        {
            return _next(context);
        }

        if (feature is null)
        {
            context.Features[FeatureKey<IEndpointFeature>.Type] = feature = new EndpointFeature();
        }

        feature.Endpoint = endpoint;
        return proxy(context);
    }

    /// <summary>The feature SetEndpoint() adds to a collection that has none (its own is private).</summary>
    private sealed class EndpointFeature : IEndpointFeature
    {
        public Endpoint? Endpoint { get; set; }
    }
}

/// <summary>
/// The app route endpoints by exact host name (case-insensitive), rebuilt whenever the endpoints change (a reload or
/// a scale publishes new routes). Readers take the current table without a lock.
/// </summary>
internal sealed class ExactHostEndpoints
{
    private readonly EndpointDataSource _source;
    private readonly Lock _rebuilding = new();
    private volatile Table _table = new(FrozenDictionary<string, Endpoint>.Empty);

    public ExactHostEndpoints(EndpointDataSource source)
    {
        _source = source;
        ChangeToken.OnChange(source.GetChangeToken, Rebuild);
        Rebuild();
    }

    /// <summary>The endpoint of the app that names this host exactly; null for anything routing must decide.</summary>
    public Endpoint? Find(HostString host)
    {
        var value = host.Value.AsSpan();
        if (value.IsEmpty || value[0] == '[')
        {
            return null;
        }

        var colon = value.LastIndexOf(':');
        if (colon >= 0)
        {
            value = value[..colon];
        }

        return _table.ByHost.TryGetValue(value, out var endpoint) ? endpoint : null;
    }

    private void Rebuild()
    {
        // Serialised, each pass reading the endpoints inside the lock: the last table written is the newest.
        lock (_rebuilding)
        {
            _table = new Table(Build(_source.Endpoints));
        }
    }

    private static FrozenDictionary<string, Endpoint> Build(IReadOnlyList<Endpoint> endpoints)
    {
        var byHost = new Dictionary<string, Endpoint>(StringComparer.OrdinalIgnoreCase);
        var claimedTwice = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<RouteModel>()?.Config is not { Match: { Path: ProxyConfigPublisher.AnyPath, Methods: null, Headers: null, QueryParameters: null, Hosts: { } hosts } })
            {
                continue;
            }

            foreach (var name in hosts)
            {
                if (name.Contains('*') || name.Contains(':'))
                {
                    continue;
                }

                if (!byHost.TryAdd(name, endpoint))
                {
                    claimedTwice.Add(name);
                }
            }
        }

        // Two routes on one name is for routing to settle (or refuse), not for this table to pick.
        foreach (var name in claimedTwice)
        {
            byHost.Remove(name);
        }

        return byHost.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A table with its span lookup made once (looking a span up needs no string per request).</summary>
    private sealed class Table(FrozenDictionary<string, Endpoint> byHost)
    {
        public FrozenDictionary<string, Endpoint>.AlternateLookup<ReadOnlySpan<char>> ByHost { get; } = byHost.GetAlternateLookup<ReadOnlySpan<char>>();
    }
}
