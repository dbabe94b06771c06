using AseGateway.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Tests.Routing;

public sealed class ExactHostEndpointsTests
{
    [Theory]
    [InlineData("web.contoso.test")]
    [InlineData("WEB.Contoso.Test")]
    [InlineData("web.contoso.test:8080")]
    public void Find_ExactHostInAnyCaseWithOrWithoutPort_IsItsAppsEndpoint(string host)
    {
        var web = AppEndpoint("web", "web.contoso.test", "www.contoso.test");
        using var source = new ChangingEndpoints(web);
        var endpoints = new ExactHostEndpoints(source);

        Assert.Same(web, endpoints.Find(new HostString(host)));
        Assert.Same(web, endpoints.Find(new HostString("www.contoso.test")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("other.contoso.test")]
    [InlineData("[::1]:8080")]
    [InlineData("shop.contoso.test")]
    [InlineData("web.contoso.test.")]
    public void Find_WildcardUnknownOrIpLiteralHost_IsLeftToRouting(string host)
    {
        using var source = new ChangingEndpoints(AppEndpoint("web", "web.contoso.test"), AppEndpoint("wild", "*.contoso.test"));
        var endpoints = new ExactHostEndpoints(source);

        Assert.Null(endpoints.Find(new HostString(host)));
    }

    [Fact]
    public void Find_HostClaimedByTwoRoutes_IsLeftToRouting()
    {
        using var source = new ChangingEndpoints(AppEndpoint("a", "web.contoso.test"), AppEndpoint("b", "WEB.contoso.test", "b.contoso.test"));
        var endpoints = new ExactHostEndpoints(source);

        Assert.Null(endpoints.Find(new HostString("web.contoso.test")));
        Assert.NotNull(endpoints.Find(new HostString("b.contoso.test")));
    }

    [Fact]
    public void Find_RouteThatAlsoMatchesOnPathOrMethod_IsLeftToRouting()
    {
        var byPath = Endpoint(new RouteConfig { RouteId = "p", ClusterId = "p", Match = new RouteMatch { Hosts = ["p.contoso.test"], Path = "/api/{**rest}" } });
        var byMethod = Endpoint(new RouteConfig { RouteId = "m", ClusterId = "m", Match = new RouteMatch { Hosts = ["m.contoso.test"], Path = ProxyConfigPublisher.AnyPath, Methods = ["GET"] } });
        using var source = new ChangingEndpoints(byPath, byMethod);
        var endpoints = new ExactHostEndpoints(source);

        Assert.Null(endpoints.Find(new HostString("p.contoso.test")));
        Assert.Null(endpoints.Find(new HostString("m.contoso.test")));
    }

    [Fact]
    public void Find_AfterTheEndpointsChange_AnswersFromTheNewOnes()
    {
        var before = AppEndpoint("web", "web.contoso.test");
        using var source = new ChangingEndpoints(before);
        var endpoints = new ExactHostEndpoints(source);
        Assert.Same(before, endpoints.Find(new HostString("web.contoso.test")));

        var moved = AppEndpoint("shop", "web.contoso.test");
        source.Replace(moved, AppEndpoint("new", "new.contoso.test"));

        Assert.Same(moved, endpoints.Find(new HostString("web.contoso.test")));
        Assert.NotNull(endpoints.Find(new HostString("new.contoso.test")));

        source.Replace();
        Assert.Null(endpoints.Find(new HostString("web.contoso.test")));
    }

    private static Endpoint AppEndpoint(string app, params string[] hosts) =>
        Endpoint(new RouteConfig { RouteId = app, ClusterId = app, Match = new RouteMatch { Hosts = hosts, Path = ProxyConfigPublisher.AnyPath } });

    private static Endpoint Endpoint(RouteConfig route) =>
        new(_ => Task.CompletedTask, new EndpointMetadataCollection(new RouteModel(route, cluster: null, HttpTransformer.Empty)), route.RouteId);

    /// <summary>Endpoints that change as a reload changes YARP's: new list, then the change token fires.</summary>
    private sealed class ChangingEndpoints(params Endpoint[] initial) : EndpointDataSource, IDisposable
    {
        private IReadOnlyList<Endpoint> _endpoints = initial;
        private CancellationTokenSource _changed = new();

        public override IReadOnlyList<Endpoint> Endpoints => _endpoints;

        public override IChangeToken GetChangeToken() => new CancellationChangeToken(_changed.Token);

        public void Replace(params Endpoint[] endpoints)
        {
            _endpoints = endpoints;
            var changed = _changed;
            _changed = new CancellationTokenSource();
            changed.Cancel();
            changed.Dispose();
        }

        public void Dispose() => _changed.Dispose();
    }
}
