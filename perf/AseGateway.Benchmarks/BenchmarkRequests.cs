using System.Net;
using AseGateway.Waf;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Benchmarks;

/// <summary>A browser-like request as the WAF sees it after Kestrel parsed it (no socket, no body reading).</summary>
internal static class BenchmarkRequests
{
    public static WafRequest Create(string method, string target, byte[]? body, string? contentType)
    {
        var context = new DefaultHttpContext();
        var question = target.IndexOf('?', StringComparison.Ordinal);
        context.Request.Method = method;
        context.Request.Protocol = "HTTP/1.1";
        context.Request.Path = question < 0 ? target : target[..question];
        context.Request.QueryString = new QueryString(question < 0 ? string.Empty : target[question..]);
        context.Request.Host = new HostString("shop.contoso.com");
        context.Request.Headers.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36";
        context.Request.Headers.Accept = "text/html,application/xhtml+xml";
        context.Request.Headers.Cookie = "session=3f2a9c; theme=dark";
        if (contentType is not null)
        {
            context.Request.ContentType = contentType;
            context.Request.ContentLength = body?.Length ?? 0;
        }

        return new WafRequest(context, IPAddress.Parse("192.0.2.10"), 50000, "bench") { Body = body ?? default };
    }

    /// <summary>What h2load sends in perf/compare.sh: GET / over HTTP/2, its own User-Agent, no cookies.</summary>
    public static WafRequest LoadGenerator()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Protocol = "HTTP/2";
        context.Request.Path = "/";
        context.Request.Host = new HostString("bench.perf.test");
        context.Request.Headers.UserAgent = "h2load nghttp2/1.52.0";
        return new WafRequest(context, IPAddress.Loopback, 50000, "bench");
    }
}
