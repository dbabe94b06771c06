using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Xml;

namespace AseGateway.Waf.Crs;

/// <summary>A named value of a collection (ARGS:name, REQUEST_HEADERS:name ...). Values are byte strings.</summary>
internal readonly record struct CrsItem(string Name, string Value);

/// <summary>
/// The request in SecLang terms, built from the gateway's <see cref="WafRequest"/>: every value is a byte string
/// (Latin-1, one char per byte) so operators and transformations see exactly the bytes ModSecurity would.
/// </summary>
internal sealed class CrsRequestData
{
    public required string Method { get; init; }

    public required string Protocol { get; init; }

    /// <summary>The request target as sent (REQUEST_URI_RAW).</summary>
    public required string RawUri { get; init; }

    /// <summary>REQUEST_URI: the target without scheme and authority.</summary>
    public required string Uri { get; init; }

    public required string Path { get; init; }

    /// <summary>
    /// REQUEST_FILENAME / REQUEST_BASENAME: the path with %XX escapes decoded (as bytes, '+' kept), as ModSecurity v3
    /// (its decoded URI) and Coraza (the parsed URL's path) expose them.
    /// </summary>
    public string DecodedPath => _decodedPath ??= PercentDecode(Path);

    private string? _decodedPath;

    public required string QueryString { get; init; }

    public required List<CrsItem> Headers { get; init; }

    public required List<CrsItem> Cookies { get; init; }

    public required List<CrsItem> ArgsGet { get; init; }

    public List<CrsItem> ArgsPost { get; } = [];

    public List<CrsItem> Files { get; } = [];

    public List<CrsItem> FilesNames { get; } = [];

    public List<CrsItem> MultipartPartHeaders { get; } = [];

    public long FilesCombinedSize { get; set; }

    public bool MultipartStrictError { get; set; }

    public bool MultipartUnmatchedBoundary { get; set; }

    public string RequestBody { get; set; } = string.Empty;

    public required byte[] BodyBytes { get; init; }

    public string? ContentType { get; init; }

    public string BodyProcessor { get; set; } = string.Empty;

    /// <summary>ctl:forceRequestBodyVariable=On: REQUEST_BODY is filled whatever the body processor.</summary>
    public bool ForceRequestBodyVariable { get; set; }

    public string? BodyError { get; set; }

    public XmlDocument? Xml { get; set; }

    public required string RemoteAddress { get; init; }

    public required string UniqueId { get; init; }

    public static string Latin1(string text)
    {
        foreach (var c in text)
        {
            if (c > 0x7F)
            {
                return Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(text));
            }
        }

        return text;
    }

    private static string PercentDecode(string value)
    {
        var escape = value.IndexOf('%', StringComparison.Ordinal);
        if (escape < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        sb.Append(value, 0, escape);
        for (var i = escape; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length && char.IsAsciiHexDigit(value[i + 1]) && char.IsAsciiHexDigit(value[i + 2]))
            {
                sb.Append((char)Convert.ToByte(value.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                sb.Append(value[i]);
            }
        }

        return sb.ToString();
    }

    public static CrsRequestData From(WafRequest request, char separator)
    {
        var raw = request.Uri;
        var uri = raw;
        var schemeEnd = raw.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd > 0 && raw[0] != '/')
        {
            var pathStart = raw.IndexOf('/', schemeEnd + 3);
            uri = pathStart < 0 ? "/" : raw[pathStart..];
        }

        var question = uri.IndexOf('?', StringComparison.Ordinal);
        var query = question < 0 ? string.Empty : uri[(question + 1)..];
        var headers = new List<CrsItem>();
        string? contentType = null;
        var cookies = new List<CrsItem>();
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                var latin = Latin1(value ?? string.Empty);
                headers.Add(new CrsItem(name, latin));
                if (string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase))
                {
                    contentType = latin;
                }
                else if (string.Equals(name, "Cookie", StringComparison.OrdinalIgnoreCase))
                {
                    ParseCookies(latin, cookies);
                }
            }
        }

        return new CrsRequestData
        {
            Method = request.Method,
            Protocol = request.Protocol,
            RawUri = Latin1(raw),
            Uri = Latin1(uri),
            Path = Latin1(question < 0 ? uri : uri[..question]),
            QueryString = Latin1(query),
            Headers = headers,
            Cookies = cookies,
            ArgsGet = ParseUrlEncoded(Latin1(query), separator),
            BodyBytes = request.Body.ToArray(),
            ContentType = contentType,
            RemoteAddress = request.ClientAddress?.ToString() ?? string.Empty,
            UniqueId = request.TransactionId,
            BodyProcessor = BodyProcessorFor(contentType),
        };
    }

    /// <summary>The body processor ModSecurity's recommended configuration selects for a Content-Type.</summary>
    private static string BodyProcessorFor(string? contentType)
    {
        if (contentType is null)
        {
            return string.Empty;
        }

        var type = contentType.Split(';', 2)[0].Trim();
        if (type.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return "URLENCODED";
        }

        if (type.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return "MULTIPART";
        }

        if (type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase))
        {
            return "JSON";
        }

        if (type.Equals("text/xml", StringComparison.OrdinalIgnoreCase) || type.Equals("application/xml", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+xml", StringComparison.OrdinalIgnoreCase))
        {
            return "XML";
        }

        return string.Empty;
    }

    private static void ParseCookies(string header, List<CrsItem> cookies)
    {
        foreach (var part in header.Split(';'))
        {
            var trimmed = part.Trim(' ', '\t');
            if (trimmed.Length == 0)
            {
                continue;
            }

            var equals = trimmed.IndexOf('=', StringComparison.Ordinal);
            cookies.Add(equals < 0 ? new CrsItem(trimmed, string.Empty) : new CrsItem(trimmed[..equals], trimmed[(equals + 1)..]));
        }
    }

    public static List<CrsItem> ParseUrlEncoded(string text, char separator)
    {
        var args = new List<CrsItem>();
        if (text.Length == 0)
        {
            return args;
        }

        foreach (var pair in text.Split(separator))
        {
            if (pair.Length == 0)
            {
                continue;
            }

            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? string.Empty : pair[(equals + 1)..];
            args.Add(new CrsItem(CrsTransforms.UrlDecode(name, unicode: false), CrsTransforms.UrlDecode(value, unicode: false)));
        }

        return args;
    }

    /// <summary>Runs the body processor (between phases 1 and 2, after ctl:requestBodyProcessor had its say).</summary>
    public void ProcessBody(char separator)
    {
        var text = Encoding.Latin1.GetString(BodyBytes);

        // ModSecurity fills REQUEST_BODY for URL-encoded bodies, bodies without a processor, and when a rule forces it
        // (CRS 901340 does for unknown types); parsed JSON, XML and multipart bodies are inspected as ARGS/XML/FILES.
        if (BodyProcessor is "" or "URLENCODED" || ForceRequestBodyVariable)
        {
            RequestBody = text;
        }

        if (BodyBytes.Length == 0)
        {
            return;
        }

        try
        {
            switch (BodyProcessor)
            {
                case "URLENCODED":
                    ArgsPost.AddRange(ParseUrlEncoded(RequestBody, separator));
                    break;
                case "JSON":
                    using (var document = JsonDocument.Parse(BodyBytes, new JsonDocumentOptions { MaxDepth = 512 }))
                    {
                        AddJson(document.RootElement, "json");
                    }

                    break;
                case "XML":
                    var xml = new XmlDocument { XmlResolver = null };
                    using (var reader = XmlReader.Create(new MemoryStream(BodyBytes), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, XmlResolver = null }))
                    {
                        xml.Load(reader);
                    }

                    Xml = xml;
                    break;
                case "MULTIPART":
                    CrsMultipart.Parse(this, text);
                    break;
            }
        }
        catch (Exception ex) when (ex is JsonException or XmlException or FormatException)
        {
            BodyError = $"{BodyProcessor} parsing error: {ex.Message}";
        }
    }

    private void AddJson(JsonElement element, string prefix)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    AddJson(property.Value, $"{prefix}.{Latin1(property.Name)}");
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    AddJson(item, $"{prefix}.{index++}");
                }

                if (index > 0)
                {
                    // The array itself is an argument too, its value the element count, as Coraza names JSON: so a
                    // key holding an array (an ORM lookup such as "roles__contained_by": [...], CRS 934210) is an
                    // argument name the rules see, not only its elements' "json.roles__contained_by.0".
                    ArgsPost.Add(new CrsItem(prefix, index.ToString(CultureInfo.InvariantCulture)));
                }

                break;
            case JsonValueKind.String:
                ArgsPost.Add(new CrsItem(prefix, Latin1(element.GetString() ?? string.Empty)));
                break;
            case JsonValueKind.Null:
                ArgsPost.Add(new CrsItem(prefix, string.Empty));
                break;
            default:
                ArgsPost.Add(new CrsItem(prefix, element.GetRawText()));
                break;
        }
    }
}
