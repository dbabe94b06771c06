using AseGateway.Health;
using AseGateway.Instances;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Forwarding;

/// <summary>
/// Proxy-pipeline stage before affinity and load balancing: when an idempotent request without a body could not
/// get any response from its instance (refused, reset or closed before the first response byte), it is sent again
/// to another instance, up to the app's <c>retry.maxAttempts</c>. YARP has no retry of its own.
/// </summary>
/// <remarks>
/// Only then is a second send safe: the method is idempotent (RFC 9110 §9.2.2), there is no body that could have
/// been consumed, and nothing reached the client yet. YARP's forwarder leaves exactly two traces of the failed
/// attempt on the context (a 502 status and the <see cref="IForwarderErrorFeature"/>; with no upstream response
/// its transforms add no header) and refuses to forward when the status is not 200, so both are undone here.
/// The failed instance is dropped from the candidates, so affinity and load balancing choose among the others.
/// Every attempt, retried or not, is also reported to <see cref="PassiveHealth"/> here: one awaiting stage instead
/// of two (each costs a state machine per request).
/// <para>
/// With the fast path in the pipeline this stage does not await at all: it hands the request's attempts to the fast
/// path (<see cref="GatewayRequestFeature.FinishAttemptsWith"/>), which calls <see cref="FinishAttemptAsync"/> when it
/// is done forwarding, its own way or YARP's. The request already waits there, in the fast path's one state machine;
/// awaiting here too cost a second one (about 190 bytes) and a second continuation on every request. A retry then runs
/// the stages after this one again from there, and the forwarding that failed waits for it. Without the fast path this
/// stage awaits each attempt and finishes it through the same <see cref="FinishAttemptAsync"/>.
/// </para>
/// </remarks>
internal sealed partial class RetryMiddleware : IAttemptFinisher
{
    private readonly RequestDelegate _next;
    private readonly RetryCounters _counters;
    private readonly InstanceManager _instances;
    private readonly ILogger _logger;
    private readonly bool _forwarderFinishesAttempts;

    /// <param name="forwarderFinishesAttempts">Whether the fast path is in the pipeline, to finish each attempt itself.</param>
    public RetryMiddleware(RequestDelegate next, RetryCounters counters, InstanceManager instances, ILogger<RetryMiddleware> logger, bool forwarderFinishesAttempts)
    {
        _next = next;
        _counters = counters;
        _instances = instances;
        _logger = logger;
        _forwarderFinishesAttempts = forwarderFinishesAttempts;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Find<GatewayRequestFeature>() is not { } gateway)
        {
            return ForwardOnceAsync(context);
        }

        var maxAttempts = gateway.App is { MaxAttempts: > 1 } app && IsRetriable(context) ? app.MaxAttempts : 1;
        gateway.FinishAttemptsWith(_forwarderFinishesAttempts ? this : null, maxAttempts, gateway.ProxyFeature(context).AvailableDestinations);
        return Attempt(context, gateway);
    }

    /// <summary>
    /// One attempt through the stages after this one. With the fast path, its forwarding finishes the attempt; one that
    /// ended before any forwarding (the load balancer found no instance) is finished here. Without it, this stage
    /// awaits the attempt and finishes it itself.
    /// </summary>
    private Task Attempt(HttpContext context, GatewayRequestFeature gateway)
    {
        var pending = _next(context);
        if (!_forwarderFinishesAttempts)
        {
            return FinishAfterAsync(pending, context, gateway);
        }

        return pending.IsCompletedSuccessfully && !gateway.AttemptFinished ? FinishAttemptAsync(context, gateway) : pending;
    }

    private async Task FinishAfterAsync(Task pending, HttpContext context, GatewayRequestFeature gateway)
    {
        await pending;
        await FinishAttemptAsync(context, gateway);
    }

    /// <summary>Reports the attempt just forwarded, and sends the request again to another instance when it may.</summary>
    public Task FinishAttemptAsync(HttpContext context, GatewayRequestFeature gateway)
    {
        gateway.AttemptFinished = true;
        PassiveHealth.ReportAttempt(context, gateway, _instances);
        var proxy = gateway.ProxyFeature(context);
        if (gateway.MaxAttempts <= 1 || !FailedBeforeAnyResponse(context, gateway) || proxy.ProxiedDestination is not { } failed
            || PrepareRetry(context, gateway, proxy, failed) is not { } candidates)
        {
            return Task.CompletedTask;
        }

        gateway.NextAttempt(candidates);
        return Attempt(context, gateway);
    }

    /// <summary>A request without the gateway's request feature (none, as the pipeline is built): reported, never retried.</summary>
    private async Task ForwardOnceAsync(HttpContext context)
    {
        await _next(context);
        PassiveHealth.ReportAttempt(context, null, _instances);
    }

    /// <summary>Idempotent methods without a request body (RFC 9110 §9.2.2); POST and PATCH never.</summary>
    internal static bool IsRetriable(HttpContext context)
    {
        var request = context.Request;
        var method = request.Method;
        if (!(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
            || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsTrace(method)))
        {
            return false;
        }

        // Kestrel knows for HTTP/1 (Content-Length / chunked) and HTTP/2 (END_STREAM on the headers).
        if (context.Features.Find<IHttpRequestBodyDetectionFeature>() is { } detection)
        {
            return !detection.CanHaveBody;
        }

        return request.ContentLength is null or 0 && !request.Headers.ContainsKey("Transfer-Encoding");
    }

    /// <summary>
    /// After the attempt under way failed on <paramref name="failed"/>: the instances left to retry on, with the context
    /// made ready for the next attempt; null (the failure stands) when no attempt or instance is left.
    /// </summary>
    private List<DestinationState>? PrepareRetry(HttpContext context, GatewayRequestFeature gateway, IReverseProxyFeature proxy, DestinationState failed)
    {
        var attempt = gateway.Attempt;
        var appName = gateway.App!.Name;
        if (attempt >= gateway.MaxAttempts)
        {
            _counters.CountExhausted();
            LogExhausted(_logger, context.Request.Method, appName, attempt);
            return null;
        }

        var rest = Without(gateway.RetryCandidates!, failed);
        if (rest.Count == 0)
        {
            _counters.CountExhausted();
            LogNoOtherInstance(_logger, context.Request.Method, appName, failed.DestinationId);
            return null;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Features.Set<IForwarderErrorFeature>(null);
        gateway.BeginAttempt(onFastPath: false);
        proxy.AvailableDestinations = rest;
        proxy.ProxiedDestination = null;
        _counters.CountRetry();
        LogRetrying(_logger, context.Request.Method, appName, failed.DestinationId, attempt + 1, gateway.MaxAttempts);
        return rest;
    }

    /// <summary>
    /// <see cref="ForwarderError.Request"/> is YARP's "an error was encountered before receiving a response"; a
    /// timeout or a canceled client is not retried (the instance may still be working on it, or nobody waits).
    /// </summary>
    private static bool FailedBeforeAnyResponse(HttpContext context, GatewayRequestFeature gateway) =>
        gateway.ForwarderError(context) is { Error: ForwarderError.Request }
        && !context.Response.HasStarted
        && !context.Aborted().IsCancellationRequested;

    private static List<DestinationState> Without(IReadOnlyList<DestinationState> destinations, DestinationState failed)
    {
        var rest = new List<DestinationState>(destinations.Count);
        for (var i = 0; i < destinations.Count; i++)
        {
            if (!ReferenceEquals(destinations[i], failed))
            {
                rest.Add(destinations[i]);
            }
        }

        return rest;
    }

    [LoggerMessage(EventId = Logging.EventIds.RequestRetried, Level = LogLevel.Warning, Message = "{Method} to app '{App}' got no response from instance {Instance}: retrying on another instance (attempt {Attempt} of {MaxAttempts}).")]
    private static partial void LogRetrying(ILogger logger, string method, string app, string instance, int attempt, int maxAttempts);

    [LoggerMessage(EventId = Logging.EventIds.RetryExhausted, Level = LogLevel.Warning, Message = "{Method} to app '{App}' got no response after {Attempts} attempt(s): answering 502.")]
    private static partial void LogExhausted(ILogger logger, string method, string app, int attempts);

    [LoggerMessage(EventId = Logging.EventIds.RetryNoOtherInstance, Level = LogLevel.Warning, Message = "{Method} to app '{App}' got no response from instance {Instance} and no other instance is available: answering 502.")]
    private static partial void LogNoOtherInstance(ILogger logger, string method, string app, string instance);
}

/// <summary>Retries sent and requests that failed with every attempt used; for logs now and metrics later.</summary>
internal sealed class RetryCounters
{
    private long _retries;
    private long _exhausted;

    public long Retries => Interlocked.Read(ref _retries);

    public long Exhausted => Interlocked.Read(ref _exhausted);

    public void CountRetry() => Interlocked.Increment(ref _retries);

    public void CountExhausted() => Interlocked.Increment(ref _exhausted);
}
