using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Forwarding;

/// <summary>
/// Feature lookups on the request path. <see cref="IFeatureCollection.Get{TFeature}"/> is a generic virtual method:
/// every call resolves its target through the runtime's generic-virtual cache and, in Kestrel's shared generic code,
/// looks <c>typeof(TFeature)</c> up at run time before walking its chain of known features. The collection's
/// indexer walks the same chain with the type as a constant. About twenty lookups per request made the generic road
/// 2% of the gateway's CPU over HTTP/1.1. HttpContext's own properties (<see cref="HttpContext.Connection"/>,
/// <see cref="HttpContext.RequestAborted"/>) read their feature the first time in each request through that generic
/// road too, in Native AOT a hashed lookup of the target (0.4-0.7% of the gateway's samples): the request path reads
/// those features here as well.
/// </summary>
internal static class FeatureLookup
{
    /// <summary>The feature of type <typeparamref name="T"/>, or null; the same answer as <c>Get&lt;T&gt;()</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T? Find<T>(this IFeatureCollection features)
        where T : class => (T?)features[FeatureKey<T>.Type];

    /// <summary><see cref="HttpContext.RequestAborted"/> through the indexer: the same token, none without the feature.</summary>
    public static CancellationToken Aborted(this HttpContext context) =>
        context.Features.Find<IHttpRequestLifetimeFeature>()?.RequestAborted ?? CancellationToken.None;

    /// <summary>YARP's per-request proxy state, as <c>GetReverseProxyFeature()</c> finds it (and the same error without it).</summary>
    public static IReverseProxyFeature ReverseProxyFeature(this HttpContext context) =>
        context.Features.Find<IReverseProxyFeature>() ?? throw new InvalidOperationException("ReverseProxyFeature unspecified.");
}

/// <summary>
/// <c>typeof(T)</c> kept in a static field. Native AOT makes a <c>typeof</c> in code a call that materialises the type
/// object from its method table (a load and a test of the type's writable data) at every lookup; a static readonly
/// field the compiler preinitialises is read as a constant instead. The JIT folds both to the same constant.
/// </summary>
internal static class FeatureKey<T>
{
    public static readonly Type Type = typeof(T);
}
