using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace AseGateway.Forwarding;

/// <summary>
/// Refuses requests whose header names are not RFC 9110 tokens, or whose values hold control characters, before
/// anything is forwarded. Kestrel accepts names such as <c>Transfer-Encoding\x01</c> (an unknown header to it); a
/// worker or an intermediary that trims or folds them may read a different message than the gateway did — the
/// root of request smuggling. Answer 400 and close the connection, as RFC 9112 asks for malformed framing. Runs after
/// <see cref="GatewayRequestMiddleware"/>, to note on its feature what its pass saw (see
/// <see cref="GatewayRequestFeature.HeadersAreSingleAscii"/>).
/// </summary>
internal sealed partial class HeaderSanityMiddleware
{
    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2)
    private static readonly SearchValues<char> TokenChars = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    // Field values: visible characters, space and horizontal tab; no other controls (RFC 9110 §5.5). HTTP/2
    // pseudo-headers never reach here (Kestrel maps them), and Kestrel already refuses NUL, CR and LF.
    private static readonly SearchValues<char> ValueControls = SearchValues.Create(
        "\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000b\u000c\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f");

    private readonly RequestDelegate _next;
    private readonly ILogger _logger;

    public HeaderSanityMiddleware(RequestDelegate next, ILogger<HeaderSanityMiddleware> logger)
    {
        _next = next;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        // Through the indexer, not HttpContext.Request: see FeatureLookup.
        var headers = context.Features.Find<IHttpRequestFeature>()!.Headers;
        bool singleAscii;
        if (headers is Http1Front.FrontHeaders { OnlyParsedFields: true } parsed)
        {
            // The gateway's HTTP/1.1 front parsed these with the same token and value sets and refused what this pass
            // would refuse: nothing to walk again.
            singleAscii = !parsed.AnyFieldRepeated;
        }
        else if (FindRefused(headers, out singleAscii) is { } refused)
        {
            return Refuse(context, refused);
        }

        if (context.Features.Find<GatewayRequestFeature>() is { } gateway)
        {
            gateway.HeadersAreSingleAscii = singleAscii;
        }

        return _next(context);
    }

    /// <summary>
    /// What is refused (a name, or a named header's value), or null; and whether every field has one ASCII value. A
    /// method of its own so that the fields' array goes back before the next stages, which borrow it too.
    /// </summary>
    private static string? FindRefused(IHeaderDictionary headers, out bool singleAscii)
    {
        singleAscii = true;
        using var fields = RequestFields.Of(headers);
        foreach (var (name, values) in fields.Span)
        {
            if (name.Length == 0 || name.AsSpan().ContainsAnyExcept(TokenChars))
            {
                return "header name";
            }

            var ascii = true;
            foreach (var value in values)
            {
                // One pass for the usual value, all visible ASCII and spaces; the two exact checks only for the rest.
                if (value is null || !value.AsSpan().ContainsAnyExceptInRange(' ', '~'))
                {
                    continue;
                }

                if (value.AsSpan().ContainsAny(ValueControls))
                {
                    return $"value of header '{name}'";
                }

                ascii = ascii && Ascii.IsValid(value);
            }

            singleAscii = singleAscii && values.Count == 1 && values[0] is not null && ascii;
        }

        return null;
    }

    private Task Refuse(HttpContext context, string what)
    {
        LogRefused(_logger, what);
        if (context.Features.Find<GatewayRequestFeature>() is { } gateway)
        {
            // The access log's 400.14, as the other stages that answer themselves note theirs.
            gateway.AnsweredBy = Observability.AccessLogSubStatus.MalformedHeader;
        }

        context.Response.Headers.Connection = "close";
        return Hosting.PlainTextResponse.WriteAsync(context, StatusCodes.Status400BadRequest, "400 Bad Request: malformed header.\n");
    }

    [LoggerMessage(EventId = Logging.EventIds.MalformedHeader, Level = LogLevel.Debug, Message = "Refused a request with a malformed {What}.")]
    private static partial void LogRefused(ILogger logger, string what);
}
