using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace AseGateway.Tls;

/// <summary>
/// What the gateway does with a TLS session once the handshake is done:
/// <list type="bullet">
/// <item>It closes a connection whose negotiated cipher suite is not one of the gateway's profile
/// (<see cref="TlsModel.IsAllowed"/>) before it serves a byte. Hosts without client certificates handshake without a
/// CipherSuitesPolicy, so that .NET caches their OpenSSL context and resumes sessions (see TlsModel); this keeps what
/// they accept the same. The handshake counts as failed, and the refusal is logged at Debug, as the NSG's are: a
/// client that can make connections must not be able to make log lines.</item>
/// <item>When the gateway ends a connection (a "Connection: close" answer, an idle keep-alive, an HTTP/2 GOAWAY), it
/// sends TLS's close_notify first, as nginx does. Kestrel disposes the stream without it: OpenSSL 3 clients then
/// report "unexpected eof while reading", a body delimited by the close reads as truncated to them, and a session
/// they take after that error cannot be resumed.</item>
/// </list>
/// </summary>
internal sealed partial class TlsSessionMiddleware
{
    /// <summary>The alert is a few bytes; a client that stopped reading does not hold the connection open for it.</summary>
    private static readonly TimeSpan CloseNotifyTimeout = TimeSpan.FromSeconds(1);

    private readonly ConnectionDelegate _next;
    private readonly ILogger _logger;

    public TlsSessionMiddleware(ConnectionDelegate next, ILogger logger)
    {
        _next = next;
        _logger = logger;
    }

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var features = connection.Features;
        if (features.Get<ITlsHandshakeFeature>()?.NegotiatedCipherSuite is { } suite && !TlsModel.IsAllowed(suite))
        {
            LogRefused(_logger, connection.RemoteEndPoint, suite);
            connection.Abort(new ConnectionAbortedException($"TLS cipher suite {suite} is not allowed."));
            return Task.CompletedTask;
        }

        return features.Get<ISslStreamFeature>()?.SslStream is { } stream ? ServeThenCloseNotifyAsync(connection, stream) : _next(connection);
    }

    private async Task ServeThenCloseNotifyAsync(ConnectionContext connection, SslStream stream)
    {
        await _next(connection);

        // Nothing to say on a connection the client already closed or the server aborted.
        if (connection.ConnectionClosed.IsCancellationRequested)
        {
            return;
        }

        var shutdown = stream.ShutdownAsync();
        try
        {
            await shutdown.WaitAsync(CloseNotifyTimeout);
        }
        catch (TimeoutException)
        {
            // A peer that reads nothing: the connection ends without the alert, and its write, still waiting, fails
            // once the transport closes. That failure is nobody's news; observed here, it is not reported as unobserved.
            _ = shutdown.ContinueWith(static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            // The peer went away meanwhile: the connection ends as it would have without the alert.
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.TlsCipherSuiteRefused, Level = LogLevel.Debug, Message = "Closed a TLS connection from {Remote}: it negotiated {Suite}, which the gateway does not accept.")]
    private static partial void LogRefused(ILogger logger, EndPoint? remote, TlsCipherSuite suite);
}
