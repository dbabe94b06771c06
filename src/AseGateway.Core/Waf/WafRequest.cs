using System.Net;
using System.Text;
using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Waf;

/// <summary>
/// The request as WAF rules and hooks see it. Parts are materialised on first use only (query arguments, the body
/// as text), so a clean GET that no rule inspects deeply costs little.
/// </summary>
public sealed class WafRequest
{
    private readonly HttpContext _context;
    private readonly HttpRequest _request;
    private string? _transactionId;
    private IReadOnlyList<KeyValuePair<string, string>>? _queryArgs;
    private string? _bodyText;
    private string? _clientAddressText;
    private string? _decodedPath;
    private string? _decodedCookieHeader;
    private int _decodedCookieEnd;
    private string? _decodedCookieValue;

    /// <param name="transactionId">
    /// The id findings, audit entries and hooks carry; without one, the request's trace identifier, read only when
    /// something asks for it (Kestrel formats it on first read: a string a clean request would allocate for nothing).
    /// </param>
    internal WafRequest(HttpContext context, IPAddress? clientAddress, int? clientPort, string? transactionId = null)
    {
        _context = context;
        _request = context.Request;
        Protocol = context.Request.Protocol;
        ClientAddress = clientAddress;
        ClientPort = clientPort;
        _transactionId = transactionId;
        var raw = context.Features.Find<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        // The target as sent, also in asterisk form (OPTIONS *) and authority form (CONNECT host:port), which have no
        // path; only the absolute form (http://host/path) is reduced to its path and query.
        Uri = !string.IsNullOrEmpty(raw) && (raw[0] == '/' || !raw.Contains("://", StringComparison.Ordinal)) ? raw : $"{_request.PathBase}{_request.Path}{_request.QueryString}";
    }

    // Typed as the interface: "cond ? ParseForm(...) : []" took List from ParseForm and made a new empty list for
    // every request without a query string.
    private static readonly IReadOnlyList<KeyValuePair<string, string>> NoArgs = [];

    public string TransactionId => _transactionId ??= _context.TraceIdentifier;

    public string Method => _request.Method;

    /// <summary>The HTTP version as the request line names it (<c>HTTP/1.1</c>, <c>HTTP/2</c>).</summary>
    public string Protocol { get; }

    /// <summary>Path and query exactly as the client sent them.</summary>
    public string Uri { get; }

    public string Host => _request.Host.Value ?? string.Empty;

    /// <summary>The path part of <see cref="Uri"/>, as sent (still percent-encoded).</summary>
    public string Path => Uri.IndexOf('?', StringComparison.Ordinal) is var question and >= 0 ? Uri[..question] : Uri;

    /// <summary><see cref="Path"/> percent-decoded, once however many rules inspect it.</summary>
    internal string DecodedPath => _decodedPath ??= WafTransforms.UrlDecode(Path);

    /// <summary>The query string without its leading '?'.</summary>
    public string QueryString => _request.QueryString.HasValue ? _request.QueryString.Value![1..] : string.Empty;

    public IPAddress? ClientAddress { get; }

    /// <summary><see cref="ClientAddress"/> as text, formatted once however many conditions read it.</summary>
    public string? ClientAddressText => _clientAddressText ??= ClientAddress?.ToString();

    public int? ClientPort { get; }

    public IHeaderDictionary Headers => _request.Headers;

    /// <summary>
    /// The Cookie header's values, which rules read with <see cref="Forwarding.CookieHeader"/>: every cookie in the
    /// order sent, values decoded.
    /// </summary>
    public StringValues CookieHeaders => _request.Headers.Cookie;

    /// <summary>False when the request has no Cookie header, and so no cookie.</summary>
    internal bool HasCookies => _request.Headers.Cookie.Count != 0;

    /// <summary>
    /// A cookie's value with its percent-escapes decoded, once however many rules read it: the cookie is told by its
    /// header and where its segment ends there (<paramref name="end"/>, the offset <see cref="CookieHeader.TryNext"/>
    /// moved to). The first such value is kept, in three fields of the request: a browser usually sends one escaped
    /// cookie, if any, and room for more (an array, or inline on every request) cost about what it saved.
    /// </summary>
    internal string DecodedCookie(string header, int end, ReadOnlySpan<char> raw)
    {
        if (_decodedCookieValue is not null && _decodedCookieEnd == end && ReferenceEquals(_decodedCookieHeader, header))
        {
            return _decodedCookieValue;
        }

        var value = CookieHeader.Decode(raw);
        if (_decodedCookieValue is null)
        {
            (_decodedCookieHeader, _decodedCookieEnd, _decodedCookieValue) = (header, end, value);
        }

        return value;
    }

    /// <summary>Query string arguments, decoded, in order (a name may repeat).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> QueryArgs => _queryArgs ??= _request.QueryString.HasValue ? BodyParser.ParseForm(QueryString) : NoArgs;

    /// <summary>Arguments from the body: form fields, JSON leaves (<c>a.b[0].c</c>), XML text and attributes.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> BodyArgs { get; internal set; } = NoArgs;

    /// <summary>
    /// The inspected part of the body (up to the policy's inspect limit); the worker still gets all of it. The memory
    /// is valid while the request is being handled: it may be pooled, so a hook that keeps the body copies it.
    /// </summary>
    public ReadOnlyMemory<byte> Body { get; internal set; }

    public bool BodyTruncated { get; internal set; }

    /// <summary>Why the body could not be parsed, if it could not (a finding, never a crash).</summary>
    public string? BodyError { get; internal set; }

    public int FileCount { get; internal set; }

    public long FileBytes { get; internal set; }

    public string BodyText => _bodyText ??= Body.IsEmpty ? string.Empty : Encoding.UTF8.GetString(Body.Span);
}
