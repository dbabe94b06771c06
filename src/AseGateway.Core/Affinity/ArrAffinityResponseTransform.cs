using System.Runtime.CompilerServices;
using AseGateway.Forwarding;
using AseGateway.Instances;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Model;
using Yarp.ReverseProxy.Transforms;

namespace AseGateway.Affinity;

/// <summary>
/// Sets the ARRAffinity cookies on responses when the client is not already pinned to the instance that answered.
/// An app turns this off per response with <c>Arr-Disable-Session-Affinity: true</c>, as on App Service; the header
/// is an instruction to the front end and is not passed on to the client.
/// </summary>
internal sealed class ArrAffinityResponseTransform : ResponseTransform
{
    private readonly InstanceRegistry _registry;
    private readonly ConditionalWeakTable<InstanceState, AffinityCookies> _cookies = new();

    public ArrAffinityResponseTransform(InstanceRegistry registry) => _registry = registry;

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.ProxyResponse is not null)
        {
            Apply(context.HttpContext, context.HttpContext.Features.Find<GatewayRequestFeature>());
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Once the worker's response headers are on the gateway's response (YARP's forwarder or the fast path, which
    /// passes the request's feature it already holds: each lookup walks the connection's feature list).
    /// </summary>
    internal void Apply(HttpContext httpContext, GatewayRequestFeature? gateway)
    {
        var response = httpContext.Response;

        var disabled = response.Headers.TryGetValue(AppServiceHeaders.DisableSessionAffinity, out var disable);
        if (disabled)
        {
            response.Headers.Remove(AppServiceHeaders.DisableSessionAffinity);
        }

        if (gateway is not { App.ClientAffinityEnabled: true }
            || (disabled && string.Equals(disable.ToString().Trim(), "true", StringComparison.OrdinalIgnoreCase))
            || gateway.ProxyFeature(httpContext).ProxiedDestination is not { } destination
            || _registry.Find(destination.DestinationId) is not { } instance)
        {
            return;
        }

        var token = instance.Spec.InstanceId;
        if (string.Equals(ArrAffinity.Token(httpContext.Request, gateway), token, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        response.Headers.Append(HeaderNames.SetCookie, CookiesFor(instance, token));
    }

    /// <summary>
    /// The two Set-Cookie values of an instance, built once (a client that is not pinned yet gets them on every answer,
    /// a load generator on all of them); rebuilt if the instance's id changes. Keyed by the state object, so the entry
    /// goes when the instance does.
    /// </summary>
    private StringValues CookiesFor(InstanceState instance, string token)
    {
        if (_cookies.TryGetValue(instance, out var cached) && string.Equals(cached.Token, token, StringComparison.Ordinal))
        {
            return cached.Values;
        }

        var cookies = new AffinityCookies(token, new StringValues(
        [
            $"{ArrAffinity.CookieName}={token};Path=/;HttpOnly",
            $"{ArrAffinity.SameSiteCookieName}={token};Path=/;HttpOnly;SameSite=None;Secure",
        ]));
        _cookies.AddOrUpdate(instance, cookies);
        return cookies.Values;
    }

    private sealed record AffinityCookies(string Token, StringValues Values);
}
