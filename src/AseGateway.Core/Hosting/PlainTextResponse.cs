using Microsoft.AspNetCore.Http;

namespace AseGateway.Hosting;

/// <summary>The gateway's own short answers (404 unknown host, 403 refusals, 400, 413): plain text, no internals.</summary>
internal static class PlainTextResponse
{
    public static Task WriteAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(body);
    }
}
