using AseGateway.Forwarding;
using AseGateway.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace AseGateway.Observability;

/// <summary>
/// The access log's part of the request metrics stage (<see cref="Metrics.RequestMetricsMiddleware"/>, which records
/// both once the answer is complete): when the log is on, counting wrappers for sc-bytes and cs-bytes before the
/// request, and one struct handed to <see cref="AccessLogWriter"/> after the response. Every answer is logged — the
/// worker's and the gateway's own (400, 403, 404, 413, 502, 503). When the log is off it costs one snapshot read.
/// </summary>
internal readonly struct AccessLogRecording
{
    private readonly AccessLogModel? _settings;
    private readonly CountingResponseBody? _body;
    private readonly CountingRequestBody? _chunked;

    private AccessLogRecording(AccessLogModel settings, CountingResponseBody body, CountingRequestBody? chunked)
    {
        _settings = settings;
        _body = body;
        _chunked = chunked;
    }

    /// <summary>Before the request: nothing when the log is off, else the byte counters.</summary>
    public static AccessLogRecording Start(HttpContext context, AccessLogModel settings) =>
        settings.Enabled ? new AccessLogRecording(settings, CountingResponseBody.Attach(context), CountingRequestBody.AttachIfUnsized(context)) : default;

    /// <summary>After the response (Kestrel's own 500 or 499 included): one entry for the writer.</summary>
    public void Finish(HttpContext context, AccessLogWriter writer, long elapsedTicks)
    {
        if (_settings is null)
        {
            return;
        }

        writer.Enqueue(AccessLogCapture.Capture(context, _settings, _body!.Bytes, context.Request.ContentLength ?? _chunked?.Bytes ?? 0, elapsedTicks));
    }
}

/// <summary>
/// One request's access-log entry, read from the finished context; the connection's feature through the collection's
/// indexer, not <see cref="HttpContext.Connection"/> (see <see cref="FeatureLookup"/>).
/// </summary>
internal static class AccessLogCapture
{
    /// <param name="receivedBytes">cs-bytes: the request body's length (Content-Length, or what was read of a chunked body).</param>
    internal static AccessLogEntry Capture(HttpContext context, AccessLogModel settings, long sentBytes, long receivedBytes, long elapsedTicks)
    {
        var request = context.Request;
        var response = context.Response;
        var headers = request.Headers;
        var gateway = context.Features.Find<GatewayRequestFeature>();
        var connection = context.Features.Find<IHttpConnectionFeature>();
        var (subStatus, win32) = Classify(context, gateway);

        return new AccessLogEntry
        {
            Settings = settings,
            Time = DateTime.UtcNow,
            SiteName = gateway?.App?.Name,
            Method = request.Method,
            UriStem = request.PathBase.HasValue ? request.PathBase.Add(request.Path).Value : request.Path.Value,
            UriQuery = request.QueryString.Value,
            ServerPort = connection?.LocalPort ?? 0,
            ClientAddress = gateway is not null ? gateway.ClientAddress : connection?.RemoteIpAddress is { } peer ? NetworkParsing.Normalize(peer) : null,
            UserAgent = headers.UserAgent.ToString(),
            Cookie = settings.IncludeCookies ? headers.Cookie.ToString() : null,
            Referer = headers.Referer.ToString(),
            Host = headers.Host.ToString(),
            Status = response.StatusCode,
            SubStatus = subStatus,
            Win32Status = win32,
            SentBytes = sentBytes,
            ReceivedBytes = receivedBytes,
            ElapsedTicks = elapsedTicks,
        };
    }

    /// <summary>Which stage answered: the gateway's own refusals, the forwarder's failures, or the worker (0).</summary>
    private static (int SubStatus, int Win32Status) Classify(HttpContext context, GatewayRequestFeature? gateway)
    {
        var aborted = context.Aborted().IsCancellationRequested ? AccessLogSubStatus.Win32ClientDisconnected : 0;
        if (gateway is null)
        {
            // A context the gateway's request stage never saw (the data plane's stages all run after it).
            return (context.Response.StatusCode == StatusCodes.Status400BadRequest ? AccessLogSubStatus.MalformedHeader : AccessLogSubStatus.None, aborted);
        }

        if (gateway.AnsweredBy != AccessLogSubStatus.None)
        {
            return (gateway.AnsweredBy, aborted);
        }

        if (gateway.ForwarderError(context) is { } error)
        {
            return error.Error switch
            {
                ForwarderError.NoAvailableDestinations => (AccessLogSubStatus.NoAvailableInstance, aborted),
                ForwarderError.RequestTimedOut => (AccessLogSubStatus.ForwarderError, AccessLogSubStatus.Win32Timeout),
                ForwarderError.RequestCanceled or ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient
                    => (AccessLogSubStatus.None, AccessLogSubStatus.Win32ClientDisconnected),
                ForwarderError.Request when error.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => (AccessLogSubStatus.ForwarderError, AccessLogSubStatus.Win32CannotConnect),
                _ => (AccessLogSubStatus.ForwarderError, AccessLogSubStatus.Win32ConnectionError),
            };
        }

        // No app route matched: the unknown-host endpoint answered.
        return (gateway.App is null && context.Response.StatusCode == StatusCodes.Status404NotFound ? AccessLogSubStatus.UnknownHost : AccessLogSubStatus.None, aborted);
    }
}
