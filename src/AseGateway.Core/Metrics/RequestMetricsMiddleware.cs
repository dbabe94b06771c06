using System.Diagnostics;
using AseGateway.Forwarding;
using AseGateway.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace AseGateway.Metrics;

/// <summary>
/// Second stage of the data plane, right after <see cref="GatewayRequestMiddleware"/> made the request's feature:
/// once the answer is complete, counts the request by app, instance, status class and protocol and records its
/// duration (and, when it was forwarded, the upstream duration); and, when the access log is on, writes the request's
/// entry (<see cref="AccessLogRecording"/>). Tags are strings the snapshot, the instance and Kestrel already hold;
/// nothing is allocated for them.
/// </summary>
/// <remarks>
/// The recording runs from the response's OnCompleted callback, which Kestrel calls after it has written the end of
/// the answer and before it lets go of the context. The stage itself awaits nothing: awaiting the rest of the
/// pipeline cost a state machine (about 130 bytes) and a continuation per request, to learn of an end Kestrel reaches
/// anyway. By then Kestrel has also settled the status of an answer the pipeline failed to give: 500 for an exception
/// before the response started, 499 for a client that went away first — the codes the count and the log show.
/// </remarks>
internal sealed class RequestMetricsMiddleware
{
    private readonly RequestDelegate _next;
    private readonly GatewayMetrics _metrics;
    private readonly AccessLogWriter _accessLog;
    private readonly Func<object, Task> _complete;

    public RequestMetricsMiddleware(RequestDelegate next, GatewayMetrics metrics, AccessLogWriter accessLog)
    {
        _next = next;
        _metrics = metrics;
        _accessLog = accessLog;
        _complete = Complete;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Find<GatewayRequestFeature>() is { } gateway)
        {
            gateway.RequestStarted = Stopwatch.GetTimestamp();
            gateway.AccessLog = AccessLogRecording.Start(context, gateway.Snapshot.AccessLog);
            // The response feature through the indexer, not HttpContext.Response: see FeatureLookup.
            context.Features.Find<IHttpResponseFeature>()!.OnCompleted(_complete, context);
        }

        return _next(context);
    }

    private Task Complete(object state)
    {
        var context = (HttpContext)state;
        var gateway = context.Features.Find<GatewayRequestFeature>()!;
        var now = Stopwatch.GetTimestamp();
        Record(context, gateway, now);
        gateway.AccessLog.Finish(context, _accessLog, now - gateway.RequestStarted);
        return Task.CompletedTask;
    }

    private void Record(HttpContext context, GatewayRequestFeature gateway, long now)
    {
        var app = gateway.App?.Name ?? RequestCounts.None;
        var instance = gateway.Instance ?? RequestCounts.None;
        _metrics.Requests.Count(app, instance, context.Response.StatusCode, context.Request.Protocol);
        _metrics.RequestDuration.Record(app, now - gateway.RequestStarted);

        if (gateway.UpstreamStarted > 0)
        {
            var error = gateway.ForwarderError(context)?.Error ?? ForwarderError.None;
            _metrics.UpstreamDuration.Record(app, instance, ForwarderOutcomes.Name(error), now - gateway.UpstreamStarted);
        }
    }
}

/// <summary>
/// Last stage before YARP's forwarder: notes which instance the load balancer chose and when forwarding began, for
/// <see cref="RequestMetricsMiddleware"/> to record once the answer is relayed. Synchronous, so it costs no state machine.
/// </summary>
internal sealed class UpstreamMetricsMiddleware
{
    private readonly RequestDelegate _next;
    private readonly Instances.InstanceRegistry _registry;

    public UpstreamMetricsMiddleware(RequestDelegate next, Instances.InstanceRegistry registry)
    {
        _next = next;
        _registry = registry;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Find<GatewayRequestFeature>() is { } gateway
            && gateway.ProxyFeature(context).AvailableDestinations is [var destination])
        {
            // The stable spec key (app/plan/index), not the runtime id: a replaced instance keeps its series.
            gateway.Instance = _registry.Find(destination.DestinationId)?.Spec.Key ?? RequestCounts.None;
            gateway.UpstreamStarted = Stopwatch.GetTimestamp();
        }

        return _next(context);
    }
}

/// <summary>Outcome label of a forwarded request: <c>ok</c> or YARP's <see cref="ForwarderError"/> name, from a table built once.</summary>
internal static class ForwarderOutcomes
{
    private static readonly Dictionary<ForwarderError, string> Names = BuildNames();

    public static string Name(ForwarderError error) => error == ForwarderError.None ? "ok" : Names.GetValueOrDefault(error, "other");

    private static Dictionary<ForwarderError, string> BuildNames()
    {
        var names = new Dictionary<ForwarderError, string>();
        foreach (var error in Enum.GetValues<ForwarderError>())
        {
            names[error] = error.ToString();
        }

        return names;
    }
}
