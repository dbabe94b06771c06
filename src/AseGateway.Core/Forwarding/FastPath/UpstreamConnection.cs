using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// One keep-alive HTTP/1.1 connection to a worker: a socket with a pipe reader and writer over it, the response-head
/// and chunk state it reuses for every exchange, and one timer-backed cancellation source reset between exchanges
/// (so a request allocates no token source of its own).
/// </summary>
internal sealed class UpstreamConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private int _disposed;
    private ValueTask<ReadResult> _readAhead;
    private bool _readAheadArmed;

    private UpstreamConnection(Socket socket, UpstreamPool pool)
    {
        _socket = socket;
        Pool = pool;
        _stream = new NetworkStream(socket, ownsSocket: true);
        // Zero-byte reads (as Kestrel's socket transport does): the buffer is rented once the response is there and
        // returned when it is consumed, instead of being held through the wait. Held, every in-flight exchange kept a
        // 16 KiB array out of the shared array pool, which keeps a few dozen per core: past that (an HTTP/2 client's 128 streams)
        // each response allocated a new array, survived a collection while waiting and went to gen 1.
        Reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true, useZeroByteReads: true));
        Writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: true));
    }

    public UpstreamPool Pool { get; }

    public PipeReader Reader { get; }

    public PipeWriter Writer { get; }

    public ResponseHead Head { get; } = new();

    public ChunkedDecoder Chunked { get; } = new();

    /// <summary>Cancelled by the activity timeout or when the client goes away; reset after each exchange.</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>When it went back to the pool (<see cref="Environment.TickCount64"/>).</summary>
    public long IdleSince { get; set; }

    /// <summary>It has carried an exchange before: a failure before any response byte may be the worker's idle close.</summary>
    public bool Reused { get; set; }

    public static async ValueTask<UpstreamConnection> ConnectAsync(UpstreamPool pool, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(pool.EndPoint, cancellationToken);
            return new UpstreamConnection(socket, pool);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Arms the read that waits for the next response, as the connection goes back to the pool (SocketsHttpHandler's
    /// read-ahead). The pipe reader's zero-byte read is the one the exchange would have issued anyway; armed while
    /// idle it also tells, at no cost, whether anything arrived there: <see cref="IsIdleUsable"/> checks it where a
    /// poll of the socket took a system call for every request. It reads with the connection's own token, so the
    /// exchange's timeout and client-abort cancellation reach it like any read of the exchange.
    /// </summary>
    public void ArmReadAhead()
    {
        if (!_readAheadArmed)
        {
#pragma warning disable CA2012 // kept, not awaited here: consumed exactly once, by the next exchange's ReadAsync or by Dispose
            _readAhead = Reader.ReadAsync(Cancellation.Token);
#pragma warning restore CA2012
            _readAheadArmed = true;
        }
    }

    /// <summary>
    /// Whether an idle connection can carry a request: nothing may have arrived on it while idle — neither data (a
    /// response nobody asked for) nor the worker's FIN or RST: each completes the read armed on return.
    /// </summary>
    public bool IsIdleUsable() => !Cancellation.IsCancellationRequested && !(_readAheadArmed && _readAhead.IsCompleted);

    /// <summary>The exchange's read of the response: the read armed while idle first, then the reader's.</summary>
    public ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken)
    {
        if (!_readAheadArmed)
        {
            return Reader.ReadAsync(cancellationToken);
        }

        var armed = _readAhead;
        _readAhead = default;
        _readAheadArmed = false;
        return armed;
    }

    /// <summary>After an exchange: false when the source fired (the connection is then closed, not reused).</summary>
    public bool TryResetCancellation() => Cancellation.TryReset();

    public void Cancel()
    {
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed by a concurrent close: nothing left to cancel.
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_readAheadArmed)
        {
            // Cancelled through the token it was armed with, then observed, so that neither its result nor the
            // socket's failure once disposed is left behind unobserved.
            _readAheadArmed = false;
            Cancel();
            ObserveReadAhead(_readAhead);
            _readAhead = default;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer.
        }

        _stream.Dispose();
        Cancellation.Dispose();
    }

    private static void ObserveReadAhead(ValueTask<ReadResult> read)
    {
        if (!read.IsCompleted)
        {
            _ = ObserveAsync(read);
            return;
        }

        try
        {
            read.GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // The worker reset the idle connection, or it was cancelled just now: it is being closed either way.
        }

        static async Task ObserveAsync(ValueTask<ReadResult> read)
        {
            try
            {
                await read.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Cancelled by the close, or failed as the socket went away.
            }
        }
    }

    internal static EndPoint EndPointFor(Uri address) =>
        IPAddress.TryParse(address.IdnHost, out var ip) ? new IPEndPoint(ip, address.Port) : new DnsEndPoint(address.IdnHost, address.Port);
}
