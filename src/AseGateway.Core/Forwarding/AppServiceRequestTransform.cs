using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Transforms;

namespace AseGateway.Forwarding;

/// <summary>
/// Adds what App Service's front end tells a worker about the request — client address and port, scheme, original
/// URL, app — and removes any client-sent copy of those headers first, unless the peer is a trusted forwarder whose
/// forwarding chain is then kept and extended.
/// </summary>
internal sealed class AppServiceRequestTransform : RequestTransform
{
    public static readonly AppServiceRequestTransform Instance = new();

    private static TlsText? _lastTls;

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var httpContext = context.HttpContext;
        var request = httpContext.Request;
        var incoming = request.Headers;
        var headers = context.ProxyRequest.Headers;
        var gateway = httpContext.Features.Find<GatewayRequestFeature>();
        var trusted = gateway?.PeerIsTrustedForwarder == true;

        RemoveSentByClient(incoming, headers, AppServiceHeaders.FrontEndOwned);
        if (!trusted)
        {
            RemoveSentByClient(incoming, headers, AppServiceHeaders.ForwarderOwned);
        }

        var peer = gateway?.PeerAddress?.ToString() ?? string.Empty;
        var incomingFor = incoming[AppServiceHeaders.ForwardedFor];
        if (incomingFor.Count > 0)
        {
            headers.Remove(AppServiceHeaders.ForwardedFor);
        }

        if (trusted && incomingFor.Count > 0)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.ForwardedFor, $"{string.Join(", ", (IEnumerable<string?>)incomingFor)}, {peer}");
        }
        else if (peer.Length > 0)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.ForwardedFor, peer);
        }

        var sentProto = incoming.ContainsKey(AppServiceHeaders.ForwardedProto);
        if (!trusted || !sentProto)
        {
            if (sentProto)
            {
                headers.Remove(AppServiceHeaders.ForwardedProto);
            }

            headers.TryAddWithoutValidation(AppServiceHeaders.ForwardedProto, request.Scheme);
        }

        if (gateway?.ClientAddress is { } client)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.ClientIp, client.ToString());
        }

        if (gateway?.ClientPort is { } port)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.ClientPort, port.ToString(CultureInfo.InvariantCulture));
        }

        // Tracing off: no activity to propagate (see NextHopTraceParent); the handler leaves the header alone then.
        if (Observability.NextHopTraceParent.IsNeeded)
        {
            headers.Remove(Observability.NextHopTraceParent.HeaderName);
            headers.TryAddWithoutValidation(Observability.NextHopTraceParent.HeaderName, Observability.NextHopTraceParent.Create(incoming.TraceParent));
        }

        if (request.IsHttps)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.ArrSsl, TlsDescription(httpContext));

            // As App Service: the client certificate is passed on, base64 DER, and not validated by the front end.
            if (httpContext.Connection.ClientCertificate is { } certificate)
            {
                headers.TryAddWithoutValidation(AppServiceHeaders.ArrClientCert, Convert.ToBase64String(certificate.RawData));
            }
        }

        headers.TryAddWithoutValidation(AppServiceHeaders.OriginalUrl, OriginalUrl(httpContext));
        if (gateway?.App is { } app)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.SiteDeploymentId, app.Name);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Drops the client's copies of headers it may not set. YARP has copied the client's headers to the outgoing
    /// message, so a name is there only if the client sent it: a lookup in Kestrel's header table is much cheaper than
    /// a removal from HttpClient's (which parses and validates the name on every call), and clients rarely send these.
    /// </summary>
    private static void RemoveSentByClient(IHeaderDictionary incoming, System.Net.Http.Headers.HttpRequestHeaders outgoing, string[] names)
    {
        foreach (var name in names)
        {
            if (incoming.ContainsKey(name))
            {
                outgoing.Remove(name);
            }
        }
    }

    /// <summary>The request target exactly as the client sent it (App Service's X-Original-URL).</summary>
    internal static string OriginalUrl(HttpContext context)
    {
        var raw = context.Features.Find<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(raw) && raw[0] == '/')
        {
            return raw;
        }

        var request = context.Request;
        return $"{request.PathBase}{request.Path}{request.QueryString}";
    }

    /// <summary>The negotiated protocol and cipher suite; workers treat the header's presence as "the client used TLS".</summary>
    internal static string TlsDescription(HttpContext context)
    {
        var tls = context.Features.Find<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>();
        if (tls is null)
        {
            return "tls";
        }

        // Nearly every connection negotiates the same protocol and suite: reuse the last text instead of formatting two
        // enum names on every request.
        var last = _lastTls;
        if (last is not null && last.Protocol == tls.Protocol && last.CipherSuite == tls.NegotiatedCipherSuite)
        {
            return last.Text;
        }

        var text = $"{tls.Protocol}|{tls.NegotiatedCipherSuite}";
        _lastTls = new TlsText(tls.Protocol, tls.NegotiatedCipherSuite, text);
        return text;
    }

    private sealed record TlsText(System.Security.Authentication.SslProtocols Protocol, System.Net.Security.TlsCipherSuite? CipherSuite, string Text);
}
