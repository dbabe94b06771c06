using System.Net;
using System.Text;
using System.Text.Json;
using System.Xml;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Waf;

/// <summary>
/// Parses inspected request bodies into arguments: URL-encoded forms, multipart forms (file parts are counted, not
/// inspected as arguments), JSON (nested keys flattened) and XML (text and attribute values). A malformed body
/// yields an error string for the rules to act on; nothing here throws on bad input.
/// </summary>
internal static class BodyParser
{
    private const int MaxJsonDepth = 64;

    public static List<KeyValuePair<string, string>> ParseForm(string text)
    {
        var args = new List<KeyValuePair<string, string>>();
        foreach (var pair in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? string.Empty : pair[(equals + 1)..];
            args.Add(new(WafTransforms.UrlDecode(name), WafTransforms.UrlDecode(value)));
        }

        return args;
    }

    public static async Task ParseAsync(WafRequest request, string? contentType, bool truncated)
    {
        if (request.Body.IsEmpty || contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
        {
            return;
        }

        var type = mediaType.MediaType.Value?.ToLowerInvariant() ?? string.Empty;
        try
        {
            if (type == "application/x-www-form-urlencoded")
            {
                request.BodyArgs = ParseForm(request.BodyText);
            }
            else if (type == "multipart/form-data")
            {
                await ParseMultipartAsync(request, HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value, truncated);
            }
            else if (type is "application/json" or "text/json" || type.EndsWith("+json", StringComparison.Ordinal))
            {
                request.BodyArgs = truncated ? [] : ParseJson(request.Body);
            }
            else if (type is "application/xml" or "text/xml" || type.EndsWith("+xml", StringComparison.Ordinal))
            {
                request.BodyArgs = truncated ? [] : ParseXml(request.Body);
            }
        }
        catch (Exception ex) when (ex is JsonException or XmlException or IOException or InvalidDataException or DecoderFallbackException)
        {
            request.BodyError = $"malformed {type} body: {ex.Message}";
        }
    }

    private static async Task ParseMultipartAsync(WafRequest request, string? boundary, bool truncated)
    {
        if (string.IsNullOrEmpty(boundary))
        {
            request.BodyError = "multipart body without a boundary";
            return;
        }

        var args = new List<KeyValuePair<string, string>>();
        var reader = new MultipartReader(boundary, new MemoryStream(request.Body.ToArray(), writable: false)) { HeadersLengthLimit = 16 * 1024 };
        try
        {
            while (await reader.ReadNextSectionAsync() is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }

                if (disposition.IsFileDisposition())
                {
                    request.FileCount++;
                    request.FileBytes += await CountAsync(section.Body);
                    continue;
                }

                using var text = new StreamReader(section.Body, Encoding.UTF8);
                args.Add(new(HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? string.Empty, await text.ReadToEndAsync()));
            }
        }
        catch (IOException) when (truncated)
        {
            // The inspected part ends mid-body: what was read is what is inspected.
        }

        request.BodyArgs = args;
    }

    private static async Task<long> CountAsync(Stream stream)
    {
        var buffer = new byte[8192];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        return total;
    }

    private static List<KeyValuePair<string, string>> ParseJson(ReadOnlyMemory<byte> body)
    {
        var args = new List<KeyValuePair<string, string>>();
        using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = MaxJsonDepth, AllowTrailingCommas = false });
        Flatten(document.RootElement, string.Empty, args);
        return args;
    }

    private static void Flatten(JsonElement element, string name, List<KeyValuePair<string, string>> args)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, name.Length == 0 ? property.Name : $"{name}.{property.Name}", args);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, $"{name}[{index++}]", args);
                }

                break;
            case JsonValueKind.String:
                args.Add(new(name, element.GetString() ?? string.Empty));
                break;
            default:
                args.Add(new(name, element.GetRawText()));
                break;
        }
    }

    private static List<KeyValuePair<string, string>> ParseXml(ReadOnlyMemory<byte> body)
    {
        var args = new List<KeyValuePair<string, string>>();

        // No DTDs and no external resources: XXE and entity expansion ("billion laughs") are refused outright.
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = 16 * 1024 * 1024, IgnoreComments = true };
        using var reader = XmlReader.Create(new MemoryStream(body.ToArray(), writable: false), settings);
        var path = new Stack<string>();
        while (reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                    var element = reader.LocalName;
                    if (reader.HasAttributes)
                    {
                        while (reader.MoveToNextAttribute())
                        {
                            args.Add(new($"{element}@{reader.LocalName}", reader.Value));
                        }

                        reader.MoveToElement();
                    }

                    if (!reader.IsEmptyElement)
                    {
                        path.Push(element);
                    }

                    break;
                case XmlNodeType.EndElement:
                    path.TryPop(out _);
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA:
                    args.Add(new(path.TryPeek(out var current) ? current : string.Empty, reader.Value));
                    break;
            }
        }

        return args;
    }

    /// <summary>For the external hook: a bounded, printable copy of a header value set.</summary>
    public static string Join(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 1 ? values[0] ?? string.Empty : string.Join(", ", (IEnumerable<string?>)values);

    internal static bool HasBody(Microsoft.AspNetCore.Http.HttpRequest request) =>
        request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0)
        || (request.ContentLength is null && request.Protocol != "HTTP/1.1" && request.Protocol != "HTTP/1.0" && !HttpMethodsWithoutBody(request.Method));

    private static bool HttpMethodsWithoutBody(string method) =>
        Microsoft.AspNetCore.Http.HttpMethods.IsGet(method) || Microsoft.AspNetCore.Http.HttpMethods.IsHead(method) || Microsoft.AspNetCore.Http.HttpMethods.IsDelete(method) || Microsoft.AspNetCore.Http.HttpMethods.IsOptions(method);

    internal static string Mask(string name, string value) =>
        name.Contains("pass", StringComparison.OrdinalIgnoreCase) || name.Contains("secret", StringComparison.OrdinalIgnoreCase) || name.Contains("token", StringComparison.OrdinalIgnoreCase)
        || name.Equals("authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("cookie", StringComparison.OrdinalIgnoreCase)
            ? "****"
            : value;

    /// <summary>The URI with the values of secret-looking query arguments (password, token, secret) replaced by ****.</summary>
    internal static string MaskQuery(string uri)
    {
        var question = uri.IndexOf('?', StringComparison.Ordinal);
        if (question < 0)
        {
            return uri;
        }

        var pairs = uri[(question + 1)..].Split('&');
        for (var i = 0; i < pairs.Length; i++)
        {
            var equals = pairs[i].IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && Mask(WafTransforms.UrlDecode(pairs[i][..equals]), "x") == "****")
            {
                pairs[i] = pairs[i][..(equals + 1)] + "****";
            }
        }

        return $"{uri[..(question + 1)]}{string.Join('&', pairs)}";
    }

    internal static string Truncate(string value, int max = 100) => value.Length <= max ? value : value[..max] + "…";
}
