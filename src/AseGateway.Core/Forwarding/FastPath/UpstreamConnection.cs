using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using AseGateway.Networking;
using AseGateway.Networking.EventLoop;
using Microsoft.AspNetCore.Connections;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// One keep-alive HTTP/1.1 connection to a worker: a socket with a pipe reader and writer over it, the response-head
/// and chunk state it reuses for every exchange, and one cancellation source for its whole life, cancelled at most
/// once (a timed-out or abandoned exchange closes the connection). The activity timeout is a deadline that
/// <see cref="UpstreamPools"/> checks once a second, so an exchange arms no timer of its own.
/// </summary>
internal sealed class UpstreamConnection : IDisposable
{
    /// <summary>What an event-loop connection buffers each way before the other side must catch up.</summary>
    private const long LoopBufferLimit = 64 * 1024;

    private readonly Socket _socket;
    private readonly NetworkStream? _stream;
    private readonly EventLoopSocket? _loopSocket;
    /// <summary>No exchange in progress: nothing to time out.</summary>
    private const long NoDeadline = long.MaxValue;

    /// <summary>The deadline passed and the sweep cancelled the exchange: the connection is not reused.</summary>
    private const long Expired = long.MinValue;

    private int _disposed;
    private long _deadline = NoDeadline;
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

    /// <summary>On an event loop: the loop's receive fills the pipe that <see cref="Reader"/> reads, and a flush of <see cref="Writer"/> sends.</summary>
    private UpstreamConnection(EventLoopSocket socket, UpstreamPool pool)
    {
        _socket = socket.Socket;
        _loopSocket = socket;
        Pool = pool;
        Reader = socket.Input;
        Writer = socket.Output;
    }

    public UpstreamPool Pool { get; }

    /// <summary>
    /// Sends <paramref name="head"/> and then <paramref name="body"/> at once, from where they are, when the connection
    /// is on an event loop with nothing unsent before them; otherwise (or for what the socket did not take) copies them
    /// to <see cref="Writer"/> and returns false: the caller flushes. A failed send throws, as the flush would have.
    /// </summary>
    public bool SendOrBuffer(ReadOnlySpan<byte> head, in ReadOnlySequence<byte> body)
    {
        var sent = _loopSocket?.SendDirect(head, body) ?? 0;
        if (sent == head.Length + body.Length)
        {
            return true;
        }

        if (sent < head.Length)
        {
            Writer.Write(head[(int)sent..]);
            sent = head.Length;
        }

        Writer.Write(body.Slice(sent - head.Length));

        return false;
    }

    /// <summary>The event loop it is on, or null on the runtime's sockets.</summary>
    public EventLoop? Loop => _loopSocket?.Loop;

    public PipeReader Reader { get; }

    public PipeWriter Writer { get; }

    public ResponseHead Head { get; } = new();

    public ChunkedDecoder Chunked { get; } = new();

    /// <summary>Cancelled by the activity timeout, when the client goes away or when the connection closes; never reset.</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>When it went back to the pool (<see cref="Environment.TickCount64"/>).</summary>
    public long IdleSince { get; set; }

    /// <summary>It has carried an exchange before: a failure before any response byte may be the worker's idle close.</summary>
    public bool Reused { get; set; }

    /// <param name="near">On event loops: the loop of the client the request came from, where the connection goes.</param>
    public static async ValueTask<UpstreamConnection> ConnectAsync(UpstreamPool pool, EventLoop? near, CancellationToken cancellationToken)
    {
        if (pool.Loops is { } loops)
        {
            return await ConnectOnLoopAsync(pool, loops, near, cancellationToken);
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(pool.EndPoint, cancellationToken);
            var connection = new UpstreamConnection(socket, pool);
            pool.Track(connection);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects without the runtime's socket engine (a socket it has seen an async call on stays in its epoll set and
    /// would wake its thread for every response): each address of the worker in turn, as <see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/> does.
    /// </summary>
    private static async ValueTask<UpstreamConnection> ConnectOnLoopAsync(UpstreamPool pool, EventLoopGroup loops, EventLoop? near, CancellationToken cancellationToken)
    {
        IPEndPoint[] candidates;
        if (pool.EndPoint is IPEndPoint ip)
        {
            candidates = [ip];
        }
        else
        {
            var dns = (DnsEndPoint)pool.EndPoint;
            var addresses = await Dns.GetHostAddressesAsync(dns.Host, cancellationToken);
            candidates = new IPEndPoint[addresses.Length];
            for (var i = 0; i < addresses.Length; i++)
            {
                candidates[i] = new IPEndPoint(addresses[i], dns.Port);
            }
        }

        SocketException? failure = null;
        foreach (var candidate in candidates)
        {
            var socket = new EventLoopSocket(
                new Socket(candidate.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true },
                loops.NearOrNext(near),
                loops.Pool,
                LoopBufferLimit,
                LoopBufferLimit,
                failWritesOnSendError: true);
            try
            {
                await socket.ConnectAsync(candidate, cancellationToken);
            }
            catch (SocketException e)
            {
                failure = e;
                continue;
            }

            var connection = new UpstreamConnection(socket, pool);
            pool.Track(connection);
            return connection;
        }

        throw failure ?? new SocketException((int)SocketError.HostNotFound);
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

    /// <summary>An exchange starts: it is cancelled if no byte comes from the worker within the activity timeout.</summary>
    public void BeginExchange() => Volatile.Write(ref _deadline, Pool.ActivityDeadline());

    /// <summary>A byte came from the worker: the activity timeout starts again (unless it already fired).</summary>
    public void ExtendDeadline()
    {
        var current = Volatile.Read(ref _deadline);
        if (current != Expired)
        {
            // Losing the race to the sweep leaves it Expired: the exchange is being cancelled anyway.
            Interlocked.CompareExchange(ref _deadline, Pool.ActivityDeadline(), current);
        }
    }

    /// <summary>The exchange is over; false when it was cancelled (timeout or client gone) and the connection must close.</summary>
    public bool EndExchange() => Interlocked.Exchange(ref _deadline, NoDeadline) != Expired && !Cancellation.IsCancellationRequested;

    /// <summary>
    /// Cancels the exchange in progress when its deadline has passed (<paramref name="now"/> in
    /// <see cref="TimeProvider.GetTimestamp"/> units). The deadline is claimed first, so a sweep that read the
    /// deadline of an exchange that ended meanwhile cannot cancel the next exchange on this connection.
    /// </summary>
    public void CancelIfOverdue(long now)
    {
        var deadline = Volatile.Read(ref _deadline);
        if (deadline != Expired && now >= deadline && Interlocked.CompareExchange(ref _deadline, Expired, deadline) == deadline)
        {
            Cancel();
        }
    }

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

        if (_loopSocket is not null)
        {
            // Shut down now; the loop closes the socket once its send and receive sides have both seen it.
            _loopSocket.Abort(new ConnectionAbortedException("The connection to the worker was closed."));
            Reader.Complete();
            Writer.Complete();
        }
        else
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already reset by the peer.
            }

            _stream!.Dispose();
        }

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
