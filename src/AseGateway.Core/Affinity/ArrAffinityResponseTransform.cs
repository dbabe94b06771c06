using AseGateway.Forwarding;
using AseGateway.Instances;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
        // The response feature's headers through the indexer (FeatureLookup): HttpResponse.Headers fetches the feature
        // with the generic Get<T> each time the request's features changed, which they did since it last looked (in
        // Native AOT a hashed lookup of the generic method's target and a type token, 0.3% of the gateway's samples).
        var headers = httpContext.Features.Find<IHttpResponseFeature>()!.Headers;
        var disabled = headers.TryGetValue(AppServiceHeaders.DisableSessionAffinity, out var disable);
        if (disabled)
        {
            headers.Remove(AppServiceHeaders.DisableSessionAffinity);
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

        headers.Append(HeaderNames.SetCookie, CookiesFor(instance, token));
    }

    /// <summary>
    /// The two Set-Cookie values of an instance, built once (a client that is not pinned yet gets them on every answer,
    /// a load generator on all of them) and kept on its state; rebuilt if the instance's id changes.
    /// </summary>
    private static StringValues CookiesFor(InstanceState instance, string token)
    {
        if (instance.ResponseCache is AffinityCookies cached && string.Equals(cached.Token, token, StringComparison.Ordinal))
        {
            return cached.Values;
        }

        var cookies = new AffinityCookies(token, new StringValues(
        [
            $"{ArrAffinity.CookieName}={token};Path=/;HttpOnly",
            $"{ArrAffinity.SameSiteCookieName}={token};Path=/;HttpOnly;SameSite=None;Secure",
        ]));
        instance.ResponseCache = cookies;
        return cookies.Values;
    }

    private sealed record AffinityCookies(string Token, StringValues Values);
}
