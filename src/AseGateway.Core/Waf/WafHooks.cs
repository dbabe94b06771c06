using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using AseGateway.Configuration;

namespace AseGateway.Waf;

/// <summary>What an inspector decided about a request.</summary>
public sealed record WafHookResult(WafAction Decision, string RuleId, string Message)
{
    public static readonly WafHookResult Allow = new(WafAction.Allow, string.Empty, string.Empty);
}

/// <summary>
/// An inspector that gates requests after the WAF's own rules: in-process code registered by a host that
/// references this library (<see cref="Hosting.GatewayServerOptions.WafHooks"/>), or an external service.
/// Hooks run in order, each within its time budget; a hook that fails or overruns gets its <see cref="OnError"/>.
/// </summary>
public interface IWafHook
{
    string Name { get; }

    TimeSpan Budget { get; }

    /// <summary>Allow (fail open) or Block (fail closed) when the hook throws or overruns its budget.</summary>
    WafAction OnError { get; }

    ValueTask<WafHookResult> InspectAsync(WafRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// An external inspector, like Envoy's ext_authz: the request's metadata (and optionally the first KB of its
/// body) is POSTed as JSON; 200 allows, 403 blocks (the response body is the reason). Concurrency is bounded;
/// over the bound, or on error or timeout, <see cref="OnError"/> decides.
/// </summary>
internal sealed class HttpWafHook : IWafHook, IDisposable
{
    private static readonly HttpMessageInvoker Client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(2),
    });

    private readonly Uri _url;
    private readonly int _bodyBytes;
    private readonly SemaphoreSlim _concurrency;

    public HttpWafHook(WafHookConfig config)
    {
        Name = config.Name!;
        _url = new Uri(config.Url!, UriKind.Absolute);
        Budget = TimeSpan.FromMilliseconds(config.TimeoutMs ?? 50);
        OnError = config.OnError ?? WafAction.Allow;
        _bodyBytes = (config.IncludeBodyKb ?? 0) * 1024;
        _concurrency = new SemaphoreSlim(config.MaxConcurrency ?? 64);
    }

    public string Name { get; }

    public TimeSpan Budget { get; }

    public WafAction OnError { get; }

    public async ValueTask<WafHookResult> InspectAsync(WafRequest request, CancellationToken cancellationToken)
    {
        if (!_concurrency.Wait(0, CancellationToken.None))
        {
            throw new InvalidOperationException($"WAF hook '{Name}' has too many calls in flight.");
        }

        try
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, values) in request.Headers)
            {
                headers[name] = BodyParser.Join(values);
            }

            var body = _bodyBytes > 0 && !request.Body.IsEmpty ? Convert.ToBase64String(request.Body.Span[..Math.Min(_bodyBytes, request.Body.Length)]) : null;
            var payload = new HookPayload(request.TransactionId, request.Method, request.Uri, request.Host, request.ClientAddress?.ToString(), request.ClientPort, headers, body);
            using var message = new HttpRequestMessage(HttpMethod.Post, _url) { Content = JsonContent.Create(payload, HookJsonContext.Default.HookPayload) };
            using var response = await Client.SendAsync(message, cancellationToken);
            return response.StatusCode switch
            {
                HttpStatusCode.OK or HttpStatusCode.NoContent => WafHookResult.Allow,
                HttpStatusCode.Forbidden => new WafHookResult(WafAction.Block, Name, BodyParser.Truncate(await response.Content.ReadAsStringAsync(cancellationToken), 200)),
                _ => throw new HttpRequestException($"WAF hook '{Name}' answered {(int)response.StatusCode}."),
            };
        }
        finally
        {
            _concurrency.Release();
        }
    }

    public void Dispose() => _concurrency.Dispose();

    internal sealed record HookPayload(string TransactionId, string Method, string Uri, string Host, string? ClientIp, int? ClientPort, Dictionary<string, string> Headers, string? Body);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HttpWafHook.HookPayload))]
internal sealed partial class HookJsonContext : JsonSerializerContext;
