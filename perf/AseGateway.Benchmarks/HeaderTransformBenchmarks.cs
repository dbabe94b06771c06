using System.Net;
using AseGateway.Affinity;
using AseGateway.Forwarding;
using AseGateway.Instances;
using AseGateway.Model;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Model;
using Yarp.ReverseProxy.Transforms;

namespace AseGateway.Benchmarks;

/// <summary>
/// The App Service request headers (X-Forwarded-For/-Proto, X-Client-IP/-Port, X-Original-URL,
/// X-Site-Deployment-Id) on a browser-like request whose headers YARP has already copied to the outgoing message,
/// from a direct client and from a trusted forwarder with a chain; and the ARRAffinity response cookies.
/// <c>NewMessageOnly</c> is the outgoing message with the copied headers, without our transform.
/// </summary>
[MemoryDiagnoser]
public class HeaderTransformBenchmarks
{
    private static readonly (string Name, string Value)[] BrowserHeaders =
    [
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", "en-GB,en;q=0.9"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"),
        ("Cookie", "session=3f2a9c; theme=dark"),
    ];

    private readonly IPAddress _peer = IPAddress.Parse("203.0.113.7");
    private readonly IPAddress _forwarder = IPAddress.Parse("10.0.1.5");
    private GatewaySnapshot _snapshot = null!;
    private AppModel _app = null!;
    private ArrAffinityResponseTransform _affinity = null!;
    private DestinationState _destination = null!;

    [GlobalSetup]
    public void Setup()
    {
        _snapshot = BenchmarkSnapshots.Compile("""
            {
              "name": "bench", "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ], "trustedForwarders": [ "10.0.1.0/24" ] },
              "workerPools": [ { "name": "WP1", "workerCount": 1, "workers": [ { "address": "http://10.0.2.4:80" } ] } ],
              "plans": [ { "name": "p", "workerPool": "WP1", "instanceCount": 1 } ],
              "apps": [ { "name": "shop", "plan": "p", "hostNames": [ "shop.contoso.com" ], "clientAffinityEnabled": true } ]
            }
            """);
        _app = _snapshot.Apps["shop"];
        var registry = new InstanceRegistry();
        var instance = new StaticInstance(_snapshot.Instances[0], new NoInstanceObserver());
        registry.TryAdd(instance);
        _destination = new DestinationState(instance.Id);
        _affinity = new ArrAffinityResponseTransform(registry);
    }

    [Benchmark(Baseline = true)]
    public object NewMessageOnly() => Context(_peer, trusted: false, forwardedFor: null).ProxyRequest;

    [Benchmark]
    public async Task<object> DirectClient()
    {
        var context = Context(_peer, trusted: false, forwardedFor: null);
        await AppServiceRequestTransform.Instance.ApplyAsync(context);
        return context.ProxyRequest;
    }

    [Benchmark]
    public async Task<object> TrustedForwarderChain()
    {
        var context = Context(_forwarder, trusted: true, forwardedFor: "198.51.100.20, 203.0.113.7");
        await AppServiceRequestTransform.Instance.ApplyAsync(context);
        return context.ProxyRequest;
    }

    [Benchmark]
    public async Task<int> AffinityCookiesSet()
    {
        var request = Context(_peer, trusted: false, forwardedFor: null);
        request.HttpContext.Features.Set<IReverseProxyFeature>(new ReverseProxyFeature { ProxiedDestination = _destination });
        using var proxyResponse = new HttpResponseMessage(HttpStatusCode.OK);
        await _affinity.ApplyAsync(new ResponseTransformContext { HttpContext = request.HttpContext, ProxyResponse = proxyResponse });
        return request.HttpContext.Response.Headers.SetCookie.Count;
    }

    private RequestTransformContext Context(IPAddress peer, bool trusted, string? forwardedFor)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = "GET";
        request.Scheme = "http";
        request.Host = new HostString("shop.contoso.com");
        request.Path = "/catalog/shoes";
        request.QueryString = new QueryString("?colour=red&page=2");
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = "/catalog/shoes?colour=red&page=2";
        var message = new HttpRequestMessage(HttpMethod.Get, "http://10.0.2.4/catalog/shoes?colour=red&page=2");
        foreach (var (name, value) in BrowserHeaders)
        {
            request.Headers[name] = value;
            message.Headers.TryAddWithoutValidation(name, value);
        }

        if (forwardedFor is not null)
        {
            request.Headers["X-Forwarded-For"] = forwardedFor;
            message.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        }

        var client = trusted ? IPAddress.Parse("203.0.113.7") : peer;
        context.Features.Set(new GatewayRequestFeature(_snapshot, peer, trusted, client, trusted ? null : 50123) { App = _app });
        return new RequestTransformContext { HttpContext = context, ProxyRequest = message, HeadersCopied = true, Path = request.Path, DestinationPrefix = "http://10.0.2.4/" };
    }
}
