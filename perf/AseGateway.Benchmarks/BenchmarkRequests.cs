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

    /// <summary>The five cookies of <see cref="BrowserPage"/> (none of them ARRAffinity).</summary>
    public const string BrowserCookies = "session=3f9c2a7e5b1d4c8fa0e6b2d9c7a4f1e8; theme=dark; consent=analytics%3Dfalse%26ads%3Dfalse; _ga=GA1.1.1234567890.1733222222; _ga_X1Y2Z3=GS1.1.1733222222.3.1.1733223333.0.0.0";

    /// <summary>
    /// A page request with the 14 header fields Chrome sends (perf/gateway-config.sh's BROWSER_HEADERS, compare.sh's
    /// --browser-headers): a User-Agent, a Referer with a query, five cookies (one percent-escaped, with "=" and "&amp;"
    /// once decoded), client hints.
    /// </summary>
    public static WafRequest BrowserPage() => new(BrowserPageContext(), IPAddress.Loopback, 50000, "bench");

    /// <summary>The request of <see cref="BrowserPage"/>, as the stages after the WAF see it.</summary>
    public static DefaultHttpContext BrowserPageContext()
    {
        var context = GetRoot("HTTP/1.1");
        var headers = context.Request.Headers;
        headers.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        headers.Accept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
        headers.AcceptLanguage = "en-US,en;q=0.9,de;q=0.8";
        headers.AcceptEncoding = "gzip, deflate, br, zstd";
        headers.Referer = "https://bench.perf.test/products/list?page=2&sort=price&category=outdoor";
        headers.Cookie = BrowserCookies;
        headers["sec-ch-ua"] = "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"";
        headers["sec-ch-ua-mobile"] = "?0";
        headers["sec-ch-ua-platform"] = "\"Windows\"";
        headers["Sec-Fetch-Dest"] = "document";
        headers["Sec-Fetch-Mode"] = "navigate";
        headers["Sec-Fetch-Site"] = "same-origin";
        headers["Sec-Fetch-User"] = "?1";
        headers.UpgradeInsecureRequests = "1";
        return context;
    }

    /// <summary>What h2load sends in perf/compare.sh: GET / over HTTP/2, its own User-Agent, no cookies.</summary>
    public static WafRequest LoadGenerator()
    {
        var context = GetRoot("HTTP/2");
        context.Request.Headers.UserAgent = "h2load nghttp2/1.52.0";
        return new WafRequest(context, IPAddress.Loopback, 50000, "bench");
    }

    /// <summary>GET / of compare.sh's app, bench.perf.test, with no header fields yet.</summary>
    public static DefaultHttpContext GetRoot(string protocol)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Protocol = protocol;
        context.Request.Path = "/";
        context.Request.Host = new HostString("bench.perf.test");
        return context;
    }
}
