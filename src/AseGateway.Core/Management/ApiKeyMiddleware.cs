using System.Security.Cryptography;
using System.Text;
using AseGateway.Configuration;
using AseGateway.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AseGateway.Management;

/// <summary>
/// Every management call needs a key, sent as <c>Authorization: Bearer …</c> or <c>X-API-Key: …</c> — never in the
/// query string, where it would end up in logs and browser history. Keys are compared as SHA-256 hashes with a
/// fixed-time comparison against every configured key, so timing tells nothing about which key or how much of it
/// matched. Reader keys may only read. Open without a key: <c>/healthz</c> (it says nothing but "serving"), the
/// dashboard's static files (its data comes from the API, with the key the page asks for), and <c>/metrics</c> only
/// when <c>management.metricsRequireApiKey</c> is false.
/// </summary>
internal sealed partial class ApiKeyMiddleware
{
    public const string ApiKeyHeader = "X-API-Key";

    /// <summary>Query parameters that look like a key (compared case-insensitively).</summary>
    private static readonly string[] KeyQueryNames = ["key", "apikey", "api_key", "api-key", "x-api-key", "access_token", "token"];

    private readonly RequestDelegate _next;
    private readonly SnapshotHolder _snapshots;
    private readonly ILogger _logger;

    public ApiKeyMiddleware(RequestDelegate next, SnapshotHolder snapshots, ILogger<ApiKeyMiddleware> logger)
    {
        _next = next;
        _snapshots = snapshots;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (HasKeyInQuery(context.Request.Query))
        {
            // Refused even alongside a valid header: a URL ends up in logs, proxies and browser history.
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"AseGateway management\"";
            return Problems.Write(context, StatusCodes.Status401Unauthorized, "API keys are never accepted in a URL", "Remove the key from the query string and send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.");
        }

        var path = context.Request.Path;
        if (path.Equals("/healthz", StringComparison.OrdinalIgnoreCase)
            || Dashboard.DashboardEndpoints.IsPage(path)
            || (path.Equals(Metrics.MetricsExport.ScrapePath, StringComparison.OrdinalIgnoreCase) && !_snapshots.Current.Management.MetricsRequireApiKey))
        {
            return _next(context);
        }

        var presented = ReadKey(context.Request);
        var key = presented is null ? null : Match(presented, _snapshots.Current.Management.ApiKeys);
        if (key is null)
        {
            LogRejected(_logger, context.Connection.RemoteIpAddress?.ToString() ?? "?", context.Request.Path.Value ?? "/", presented is null ? "no key" : "unknown key");
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"AseGateway management\"";
            return Problems.Write(context, StatusCodes.Status401Unauthorized, "A valid API key is required", "Send the key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.");
        }

        if (key.Role == ApiKeyRole.Reader && !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            return Problems.Write(context, StatusCodes.Status403Forbidden, "This key may only read", $"API key '{key.Name}' has the Reader role.");
        }

        return _next(context);
    }

    private static bool HasKeyInQuery(IQueryCollection query)
    {
        foreach (var name in KeyQueryNames)
        {
            if (query.ContainsKey(name))
            {
                return true;
            }
        }

        return false;
    }

    private static string? ReadKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Length > 7)
        {
            return authorization[7..].Trim();
        }

        var header = request.Headers[ApiKeyHeader].ToString();
        return header.Length > 0 ? header : null;
    }

    internal static ApiKeyModel? Match(string presented, IReadOnlyList<ApiKeyModel> keys)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        ApiKeyModel? match = null;

        // No early exit: every configured key is compared whether or not one already matched.
        foreach (var key in keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, key.Sha256))
            {
                match = key;
            }
        }

        return match;
    }

    [LoggerMessage(EventId = Logging.EventIds.ManagementUnauthorized, Level = LogLevel.Warning, Message = "Management call from {Peer} to {Path} refused: {Reason}.")]
    private static partial void LogRejected(ILogger logger, string peer, string path, string reason);
}
