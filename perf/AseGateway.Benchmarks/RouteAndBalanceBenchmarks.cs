using System.Net;
using AseGateway.Affinity;
using AseGateway.Forwarding;
using AseGateway.Health;
using AseGateway.Instances;
using AseGateway.Model;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Benchmarks;

/// <summary>
/// Picking the instance for one request, after routing: the ARRAffinity cookie stage, then the app's load-balancing
/// policy over the available instances (what YARP's load-balancing middleware does next), each on a new request as
/// Kestrel would give it; and with the response's stage, which sets the affinity cookies on an answer to a client not
/// pinned to the instance that gave it (a browser's five other cookies, or a pinned client's). Also the availability
/// recomputation (App Service's exclusion rules), which runs when an instance's health changes, not per request.
/// <c>NewRequestOnly</c> is the cost of the request object itself.
/// </summary>
[MemoryDiagnoser]
public class RouteAndBalanceBenchmarks
{
    private readonly InstanceRegistry _registry = new();
    private ILoadBalancingPolicy _policy = null!;
    private InstanceAvailabilityPolicy _availability = null!;
    private GatewaySnapshot _snapshot = null!;
    private AppModel _app = null!;
    private RouteModel _route = null!;
    private ClusterModel _cluster = null!;
    private ClusterConfig _clusterConfig = null!;
    private DestinationState[] _destinations = [];
    private IReadOnlyList<DestinationState> _available = [];
    private ArrAffinityMiddleware _affinity = null!;
    private ArrAffinityResponseTransform _affinityCookies = null!;
    private string _pinnedCookie = string.Empty;

    [Params(2, 10)]
    public int Instances { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var workers = string.Join(",", Enumerable.Range(0, Instances).Select(i => $$"""{ "address": "http://10.0.2.{{i + 4}}:80" }"""));
        _snapshot = BenchmarkSnapshots.Compile($$"""
            {
              "name": "bench", "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ] },
              "workerPools": [ { "name": "WP1", "workerCount": {{Instances}}, "workers": [ {{workers}} ] } ],
              "plans": [ { "name": "p", "workerPool": "WP1", "instanceCount": {{Instances}} } ],
              "apps": [ { "name": "shop", "plan": "p", "hostNames": [ "shop.contoso.com" ], "healthCheckPath": "/healthz",
                          "clientAffinityEnabled": true, "loadBalancing": "PowerOfTwoChoices" } ]
            }
            """);
        _app = _snapshot.Apps["shop"];
        var observer = new NoInstanceObserver();
        var destinations = new List<DestinationState>();
        foreach (var spec in _snapshot.Instances)
        {
            var instance = new StaticInstance(spec, observer);
            instance.Start();
            instance.State.SetPhase(InstancePhase.Ready);
            _registry.TryAdd(instance);
            destinations.Add(new DestinationState(instance.Id));
        }

        _destinations = [.. destinations];
        _pinnedCookie = $"theme=dark; {ArrAffinity.CookieName}={_snapshot.Instances[Instances - 1].InstanceId}; session=3f2a9c";

        var services = new ServiceCollection().AddLogging();
        services.AddReverseProxy();
        using var provider = services.BuildServiceProvider();
        foreach (var policy in provider.GetServices<ILoadBalancingPolicy>())
        {
            if (policy.Name == _app.LoadBalancingPolicy)
            {
                _policy = policy;
            }
        }

        _clusterConfig = new ClusterConfig { ClusterId = _app.ClusterId, LoadBalancingPolicy = _app.LoadBalancingPolicy };
        _cluster = new ClusterModel(_clusterConfig, new HttpMessageInvoker(new SocketsHttpHandler()));
        var clusterState = new ClusterState(_app.ClusterId, _cluster);
        _route = new RouteModel(new RouteConfig { RouteId = _app.Name, ClusterId = _app.ClusterId }, clusterState, HttpTransformer.Empty);
        _availability = new InstanceAvailabilityPolicy(_registry, TimeProvider.System);
        _available = _availability.GetAvailalableDestinations(_clusterConfig, _destinations);
        _affinity = new ArrAffinityMiddleware(PickAsync, _registry);
        _affinityCookies = new ArrAffinityResponseTransform(_registry);
    }

    [Benchmark(Baseline = true)]
    public object NewRequestOnly() => NewRequest(cookie: null);

    [Benchmark]
    public async Task<object?> NoCookieBalanced()
    {
        var context = NewRequest(cookie: null);
        await _affinity.InvokeAsync(context);
        return context.GetReverseProxyFeature().ProxiedDestination;
    }

    [Benchmark]
    public async Task<object?> AffinityCookiePinned()
    {
        var context = NewRequest(_pinnedCookie);
        await _affinity.InvokeAsync(context);
        return context.GetReverseProxyFeature().ProxiedDestination;
    }

    [Benchmark]
    public Task<int> BrowserCookiesBalancedAndAnswered() => BalanceAndAnswerAsync(BenchmarkRequests.BrowserCookies);

    [Benchmark]
    public Task<int> AffinityCookiePinnedAndAnswered() => BalanceAndAnswerAsync(_pinnedCookie);

    [Benchmark]
    public int AvailabilityRecomputed() => _availability.GetAvailalableDestinations(_clusterConfig, _destinations).Count;

    /// <summary>The affinity stage and balancing, then the response's cookie stage; the Set-Cookie values it added.</summary>
    private async Task<int> BalanceAndAnswerAsync(string cookie)
    {
        var context = NewRequest(cookie);
        await _affinity.InvokeAsync(context);
        _affinityCookies.Apply(context, context.Features.Get<GatewayRequestFeature>());
        return context.Response.Headers.SetCookie.Count;
    }

    private DefaultHttpContext NewRequest(string? cookie)
    {
        var context = new DefaultHttpContext();
        context.Request.Host = new HostString("shop.contoso.com");
        context.Request.Path = "/api/products";
        if (cookie is not null)
        {
            context.Request.Headers.Cookie = cookie;
        }

        context.Features.Set<IReverseProxyFeature>(new ReverseProxyFeature
        {
            Route = _route,
            Cluster = _cluster,
            AllDestinations = _destinations,
            AvailableDestinations = _available,
        });
        context.Features.Set(new GatewayRequestFeature(_snapshot, IPAddress.Loopback, peerIsTrustedForwarder: false, IPAddress.Loopback, 50000) { App = _app });
        return context;
    }

    /// <summary>What YARP's load-balancing stage does after the affinity stage narrowed (or not) the destinations.</summary>
    private Task PickAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        var destinations = proxy.AvailableDestinations;
        proxy.ProxiedDestination = destinations.Count == 1 ? destinations[0] : _policy.PickDestination(context, _route.Cluster!, destinations);
        return Task.CompletedTask;
    }
}
