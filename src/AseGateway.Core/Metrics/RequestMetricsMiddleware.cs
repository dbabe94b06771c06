using System.Diagnostics;
using AseGateway.Forwarding;
using AseGateway.Model;
using AseGateway.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace AseGateway.Metrics;

/// <summary>
/// Outermost stage of the data plane: once the answer is complete, counts the request by app, instance, status class
/// and protocol and records its duration (and, when it was forwarded, the upstream duration); and, when the access log
/// is on, writes the request's entry (<see cref="AccessLogRecording"/>). Both share this one stage, so a request is
/// awaited once for both (an async state machine each cost about 130 bytes and a continuation per request). Tags are
/// strings the snapshot, the instance and Kestrel already hold; nothing is allocated for them.
/// </summary>
internal sealed class RequestMetricsMiddleware
{
    private readonly RequestDelegate _next;
    private readonly GatewayMetrics _metrics;
    private readonly SnapshotHolder _snapshots;
    private readonly AccessLogWriter _accessLog;

    public RequestMetricsMiddleware(RequestDelegate next, GatewayMetrics metrics, SnapshotHolder snapshots, AccessLogWriter accessLog)
    {
        _next = next;
        _metrics = metrics;
        _snapshots = snapshots;
        _accessLog = accessLog;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var recording = AccessLogRecording.Start(context, _snapshots.Current.AccessLog);
        Task pending;
        try
        {
            pending = _next(context);
        }
        catch
        {
            Complete(context, started, recording, failed: true);
            throw;
        }

        if (pending.IsCompletedSuccessfully)
        {
            Complete(context, started, recording, failed: false);
            return Task.CompletedTask;
        }

        return AwaitAndCompleteAsync(pending, context, started, recording);
    }

    private async Task AwaitAndCompleteAsync(Task pending, HttpContext context, long started, AccessLogRecording recording)
    {
        var failed = true;
        try
        {
            await pending;
            failed = false;
        }
        finally
        {
            Complete(context, started, recording, failed);
        }
    }

    private void Complete(HttpContext context, long started, AccessLogRecording recording, bool failed)
    {
        var now = Stopwatch.GetTimestamp();
        Record(context, started, now, failed);
        recording.Finish(context, _accessLog, now - started, failed);
    }

    private void Record(HttpContext context, long started, long now, bool failed)
    {
        var gateway = context.Features.Find<GatewayRequestFeature>();
        var app = gateway?.App?.Name ?? RequestCounts.None;
        var instance = gateway?.Instance ?? RequestCounts.None;

        // An exception that escaped before the answer started becomes a 500 in Kestrel.
        var status = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
        _metrics.Requests.Count(app, instance, status, context.Request.Protocol);
        _metrics.RequestDuration.Record(Stopwatch.GetElapsedTime(started, now).TotalSeconds, new KeyValuePair<string, object?>(MetricLabels.App, app));

        if (gateway is { UpstreamStarted: > 0 } forwarded)
        {
            var error = forwarded.ForwarderError(context)?.Error ?? ForwarderError.None;
            _metrics.UpstreamDuration.Record(
                Stopwatch.GetElapsedTime(forwarded.UpstreamStarted, now).TotalSeconds,
                new KeyValuePair<string, object?>(MetricLabels.App, app),
                new KeyValuePair<string, object?>(MetricLabels.Instance, instance),
                new KeyValuePair<string, object?>(MetricLabels.Outcome, ForwarderOutcomes.Name(error)));
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
