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

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var httpContext = context.HttpContext;
        var request = httpContext.Request;
        var headers = context.ProxyRequest.Headers;
        var gateway = httpContext.Features.Get<GatewayRequestFeature>();
        var trusted = gateway?.PeerIsTrustedForwarder == true;

        foreach (var name in AppServiceHeaders.FrontEndOwned)
        {
            headers.Remove(name);
        }

        if (!trusted)
        {
            foreach (var name in AppServiceHeaders.ForwarderOwned)
            {
                headers.Remove(name);
            }
        }

        var peer = gateway?.PeerAddress?.ToString() ?? string.Empty;
        headers.Remove(AppServiceHeaders.ForwardedFor);
        var incomingFor = request.Headers[AppServiceHeaders.ForwardedFor];
        if (trusted && incomingFor.Count > 0)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.ForwardedFor, $"{string.Join(", ", (IEnumerable<string?>)incomingFor)}, {peer}");
        }
        else if (peer.Length > 0)
        {
            headers.TryAddWithoutValidation(AppServiceHeaders.ForwardedFor, peer);
        }

        if (!trusted || !request.Headers.ContainsKey(AppServiceHeaders.ForwardedProto))
        {
            headers.Remove(AppServiceHeaders.ForwardedProto);
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

    /// <summary>The request target exactly as the client sent it (App Service's X-Original-URL).</summary>
    internal static string OriginalUrl(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
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
        var tls = context.Features.Get<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>();
        return tls is null ? "tls" : $"{tls.Protocol}|{tls.NegotiatedCipherSuite}";
    }
}
