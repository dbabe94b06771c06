using System.IO.Pipelines;
using System.Net.Sockets;
using AseGateway.Model;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace AseGateway.Connections;

/// <summary>
/// Bounds what a client that does not read can cost. <c>frontEnd.limits.sendTimeoutSeconds</c>: when a write to the
/// socket stays blocked by back-pressure for that long, the connection is aborted — nginx's <c>send_timeout</c>,
/// measured between two successive moves of the output rather than over a whole response. Kestrel's own rate limits
/// only watch response bodies, so without it a client that writes PING or SETTINGS frames and never reads their
/// acknowledgements (CVE-2019-9512, CVE-2019-9515), or a slow reader behind a tiny TCP window, keeps its connection
/// for as long as it likes. <c>frontEnd.limits.clientSendBufferSizeInKb</c> caps the kernel's send buffer (HAProxy's
/// tune.sndbuf.client): Linux grows it to 4 MiB per socket, which a slow reader pins and which delays the back-pressure
/// the timeout waits for. It runs on the raw transport, under TLS, so it sees real socket writes.
/// </summary>
internal sealed partial class SendLimitsMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly SnapshotHolder _snapshots;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public SendLimitsMiddleware(ConnectionDelegate next, SnapshotHolder snapshots, TimeProvider time, ILogger<SendLimitsMiddleware> logger)
    {
        _next = next;
        _snapshots = snapshots;
        _time = time;
        _logger = logger;
    }

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var limits = _snapshots.Current.Limits;
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (limits.ClientSendBufferSize > 0 && socket is not null)
        {
            socket.SendBufferSize = limits.ClientSendBufferSize;
        }

        var timeout = limits.SendTimeout;
        if (timeout > TimeSpan.Zero)
        {
            connection.Transport = new TimedTransport(connection.Transport, new TimedOutput(connection.Transport.Output, connection, socket, timeout, _time, _logger));
        }

        return _next(connection);
    }

    [LoggerMessage(EventId = Logging.EventIds.SendTimedOut, Level = LogLevel.Debug, Message = "Connection {ConnectionId} aborted: the client read nothing for {Seconds} s while output was waiting.")]
    private static partial void LogSendTimedOut(ILogger logger, string connectionId, double seconds);

    private sealed class TimedTransport(IDuplexPipe inner, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => inner.Input;

        public PipeWriter Output => output;
    }

    /// <summary>Passes every call through; a flush that does not complete at once arms a timer that aborts the connection.</summary>
    private sealed class TimedOutput(PipeWriter inner, ConnectionContext connection, Socket? socket, TimeSpan timeout, TimeProvider time, ILogger logger) : PipeWriter
    {
        private static readonly TimerCallback Expire = static state => ((TimedOutput)state!).Abort();

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            var flush = inner.FlushAsync(cancellationToken);
            return flush.IsCompleted ? flush : WaitAsync(flush);
        }

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            var write = inner.WriteAsync(source, cancellationToken);
            return write.IsCompleted ? write : WaitAsync(write);
        }

        private void Abort()
        {
            LogSendTimedOut(logger, connection.ConnectionId, timeout.TotalSeconds);
            try
            {
                // Kestrel closes with a FIN queued behind the unread data, which the slow reader would take as long
                // as it likes to reach, with the kernel keeping the buffer meanwhile. Linger 0 makes the close a
                // reset that drops the buffer at once (nginx's reset_timedout_connection).
                socket?.LingerState = new LingerOption(enable: true, seconds: 0);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }

            connection.Abort(new ConnectionAbortedException("The client did not read the response within the send timeout."));
        }

        // Only a blocked flush gets here: the client is not keeping up, so the timer is worth its allocation.
        private async ValueTask<FlushResult> WaitAsync(ValueTask<FlushResult> flush)
        {
            using var deadline = time.CreateTimer(Expire, this, timeout, Timeout.InfiniteTimeSpan);
            return await flush;
        }
    }
}
