using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// go-ftw's backend albedo's <c>POST /reflect</c>: the request body is a JSON document giving the response to send
/// (<c>status</c>, <c>headers</c>, <c>body</c> or base64 <c>encodedBody</c>), which is how CRS's response-rule tests
/// make a backend leak an error page. Like albedo (a Go net/http server), a response without a Content-Type gets the
/// type Go's content sniffing gives its body.
/// </summary>
internal static class AlbedoReflect
{
    public const string Path = "/reflect";

    public static bool Handles(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && (request.Path == Path || request.Path == Path + "/");

    public static async Task HandleAsync(HttpContext context)
    {
        var response = context.Response;
        JsonElement spec;
        try
        {
            spec = (await JsonDocument.ParseAsync(context.Request.Body)).RootElement;
        }
        catch (JsonException)
        {
            response.StatusCode = StatusCodes.Status400BadRequest;
            await response.WriteAsync("Invalid JSON in request body");
            return;
        }

        var status = spec.TryGetProperty("status", out var statusValue) && statusValue.ValueKind == JsonValueKind.Number ? statusValue.GetInt32() : 0;
        if (status is > 0 and < 100 or >= 600)
        {
            response.StatusCode = StatusCodes.Status400BadRequest;
            await response.WriteAsync($"Invalid status code: {status}");
            return;
        }

        byte[] body;
        try
        {
            body = spec.TryGetProperty("body", out var text) && text.GetString() is { Length: > 0 } plain ? Encoding.UTF8.GetBytes(plain)
                : spec.TryGetProperty("encodedBody", out var encoded) && encoded.GetString() is { Length: > 0 } base64 ? Convert.FromBase64String(base64)
                : [];
        }
        catch (FormatException)
        {
            response.StatusCode = StatusCodes.Status400BadRequest;
            await response.WriteAsync("invalid base64 encoding of response body");
            return;
        }

        if (spec.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
        {
            foreach (var header in headers.EnumerateObject())
            {
                response.Headers.Append(header.Name, header.Value.GetString());
            }
        }

        response.StatusCode = status == 0 ? StatusCodes.Status200OK : status;
        if (body.Length == 0)
        {
            return;
        }

        if (!response.Headers.ContainsKey("Content-Type"))
        {
            response.ContentType = SniffContentType(body);
        }

        await response.Body.WriteAsync(body);
    }

    /// <summary>The text types of Go's http.DetectContentType (the WHATWG sniffing algorithm) that CRS's tests can produce.</summary>
    private static string SniffContentType(byte[] body)
    {
        var start = 0;
        while (start < body.Length && body[start] is (byte)'\t' or (byte)'\n' or 0x0C or (byte)'\r' or (byte)' ')
        {
            start++;
        }

        var text = Encoding.Latin1.GetString(body, start, Math.Min(body.Length - start, 32));
        foreach (var tag in HtmlTags)
        {
            if (text.StartsWith(tag, StringComparison.OrdinalIgnoreCase) && text.Length > tag.Length && text[tag.Length] is ' ' or '>')
            {
                return "text/html; charset=utf-8";
            }
        }

        if (text.StartsWith("<?xml", StringComparison.Ordinal))
        {
            return "text/xml; charset=utf-8";
        }

        if (text.StartsWith("%PDF-", StringComparison.Ordinal))
        {
            return "application/pdf";
        }

        foreach (var b in body.AsSpan(0, Math.Min(body.Length, 512)))
        {
            if (b is <= 0x08 or 0x0B or (>= 0x0E and <= 0x1A) or (>= 0x1C and <= 0x1F))
            {
                return "application/octet-stream";
            }
        }

        return "text/plain; charset=utf-8";
    }

    private static readonly string[] HtmlTags =
    [
        "<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT", "<TABLE", "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--",
    ];
}
