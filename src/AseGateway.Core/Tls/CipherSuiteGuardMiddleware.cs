using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace AseGateway.Tls;

/// <summary>
/// Right after the TLS handshake: closes a connection whose negotiated cipher suite is not one of the gateway's
/// profile (<see cref="TlsModel.IsAllowed"/>) before it serves a byte. Hosts without client certificates handshake
/// without a CipherSuitesPolicy, so that .NET caches their OpenSSL context and resumes sessions (see TlsModel); this
/// keeps what they accept the same. The handshake counts as failed, and the refusal is logged at Debug, as the NSG's
/// are: a client that can make connections must not be able to make log lines.
/// </summary>
internal sealed partial class CipherSuiteGuardMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly ILogger _logger;

    public CipherSuiteGuardMiddleware(ConnectionDelegate next, ILogger logger)
    {
        _next = next;
        _logger = logger;
    }

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        if (connection.Features.Get<ITlsHandshakeFeature>()?.NegotiatedCipherSuite is { } suite && !TlsModel.IsAllowed(suite))
        {
            LogRefused(_logger, connection.RemoteEndPoint, suite);
            connection.Abort(new ConnectionAbortedException($"TLS cipher suite {suite} is not allowed."));
            return Task.CompletedTask;
        }

        return _next(connection);
    }

    [LoggerMessage(EventId = Logging.EventIds.TlsCipherSuiteRefused, Level = LogLevel.Debug, Message = "Closed a TLS connection from {Remote}: it negotiated {Suite}, which the gateway does not accept.")]
    private static partial void LogRefused(ILogger logger, EndPoint? remote, System.Net.Security.TlsCipherSuite suite);
}
