using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AseGateway.Hosting;

/// <summary>
/// Answers requests for a host no app claims: 404 with a short plain-text sentence that names the host, as App
/// Service's front end does — no stack, no internals, and the echoed host is sanitised and bounded.
/// </summary>
internal static partial class UnknownHostEndpoint
{
    private const int MaxEchoedHostLength = 100;

    public static Task HandleAsync(HttpContext context)
    {
        var host = Sanitize(context.Request.Host.Host);
        var logger = context.RequestServices.GetService(typeof(ILogger<GatewayServer>)) as ILogger;
        if (logger is not null)
        {
            LogUnknownHost(logger, host);
        }

        return PlainTextResponse.WriteAsync(context, StatusCodes.Status404NotFound, $"404 Not Found: no app is configured for host '{host}'.\n");
    }

    private static string Sanitize(string host)
    {
        if (host.Length > MaxEchoedHostLength)
        {
            host = host[..MaxEchoedHostLength] + "...";
        }

        return string.Create(host.Length, host, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                span[i] = char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':' or '[' or ']' or '*' ? c : '?';
            }
        });
    }

    [LoggerMessage(EventId = Logging.EventIds.UnknownHost, Level = LogLevel.Debug, Message = "No app answers for host '{Host}'.")]
    private static partial void LogUnknownHost(ILogger logger, string host);
}
