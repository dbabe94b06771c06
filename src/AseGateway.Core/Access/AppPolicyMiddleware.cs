using AseGateway.Configuration;
using AseGateway.Forwarding;
using AseGateway.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Access;

/// <summary>
/// First stage of the proxy pipeline, once the app is known: App Service access restrictions (403), HTTPS Only
/// (301 to the same URL over https), a required client certificate (403 unless the path is excluded), and HSTS.
/// Each refusal is a short plain-text answer; nothing reaches the app.
/// </summary>
internal sealed partial class AppPolicyMiddleware
{
    private readonly RequestDelegate _next;
    private readonly AccessCounters _counters;
    private readonly ILogger _logger;

    public AppPolicyMiddleware(RequestDelegate next, AccessCounters counters, ILogger<AppPolicyMiddleware> logger)
    {
        _next = next;
        _counters = counters;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var gateway = context.Features.Find<GatewayRequestFeature>();
        if (gateway is null)
        {
            return _next(context);
        }

        var app = gateway.App = gateway.Snapshot.Apps.GetValueOrDefault(gateway.ProxyFeature(context).Route.Config.RouteId);
        if (app is null)
        {
            return _next(context);
        }

        var request = context.Request;
        if (gateway.ClientAddress is { } client)
        {
            var (rule, action) = app.AccessRestrictions.Evaluate(client, request.Headers);
            if (action == SecurityRuleAccess.Deny)
            {
                var name = rule?.Name ?? "(default action)";
                _counters.CountDenied(app.Name, name);
                LogDenied(_logger, client, app.Name, name);
                gateway.AnsweredBy = Observability.AccessLogSubStatus.AccessRestricted;
                return PlainTextResponse.WriteAsync(context, StatusCodes.Status403Forbidden, "403 Forbidden: access to this app is restricted.\n");
            }
        }

        if (!request.IsHttps)
        {
            if (app.HttpsOnly)
            {
                // Same host, path and query; only the scheme (and the default port) changes.
                var target = UriHelper.BuildAbsolute("https", new HostString(request.Host.Host), request.PathBase, request.Path, request.QueryString);
                gateway.AnsweredBy = Observability.AccessLogSubStatus.HttpsRedirect;
                context.Response.StatusCode = StatusCodes.Status301MovedPermanently;
                context.Response.Headers.Location = target;
                return Task.CompletedTask;
            }

            return _next(context);
        }

        if (app.ClientCertMode == ClientCertMode.Required && context.Connection.ClientCertificate is null && !IsExcluded(request.Path, app.ClientCertExclusionPaths))
        {
            LogNoCertificate(_logger, app.Name, request.Path.Value ?? "/");
            gateway.AnsweredBy = Observability.AccessLogSubStatus.ClientCertificateRequired;
            return PlainTextResponse.WriteAsync(context, StatusCodes.Status403Forbidden, "403 Forbidden: this app requires a client certificate.\n");
        }

        if (app.Hsts is { } hsts)
        {
            context.Response.Headers.StrictTransportSecurity = hsts;
        }

        return _next(context);
    }

    private static bool IsExcluded(PathString path, IReadOnlyList<string> exclusions)
    {
        foreach (var exclusion in exclusions)
        {
            if (path.StartsWithSegments(exclusion, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = Logging.EventIds.AccessDenied, Level = LogLevel.Information, Message = "Access restriction '{Rule}' of app '{App}' denied {Client}.")]
    private static partial void LogDenied(ILogger logger, System.Net.IPAddress client, string app, string rule);

    [LoggerMessage(EventId = Logging.EventIds.ClientCertificateMissing, Level = LogLevel.Information, Message = "App '{App}' requires a client certificate; none was sent for {Path}.")]
    private static partial void LogNoCertificate(ILogger logger, string app, string path);
}

/// <summary>Requests refused by access restrictions, per app and rule.</summary>
internal sealed class AccessCounters
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string App, string Rule), long> _denied = new();

    public void CountDenied(string app, string rule) => _denied.AddOrUpdate((app, rule), 1, static (_, count) => count + 1);

    public long Denied(string app, string rule) => _denied.TryGetValue((app, rule), out var count) ? count : 0;

    /// <summary>Denied requests by app and rule, for the metrics exporter.</summary>
    public IEnumerable<KeyValuePair<(string App, string Rule), long>> All => _denied;
}
