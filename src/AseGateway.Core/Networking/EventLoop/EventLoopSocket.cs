using System.Buffers;
using System.ComponentModel;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using static AseGateway.Networking.EventLoop.LinuxSockets;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// A non-blocking socket on an <see cref="EventLoop"/>, seen through two pipes: bytes received are written to
/// <see cref="Input"/> and bytes written to <see cref="Output"/> are sent. Both pipes schedule inline, so the reader
/// of <see cref="Input"/> runs on the loop thread inside the receive, and a flush of <see cref="Output"/> sends
/// before it returns: a request that needs no waiting is received, handled and answered with no thread hand-off.
/// Only a full send buffer or a full input pipe makes a side wait (for EPOLLOUT, or for the reader to catch up).
/// </summary>
internal sealed class EventLoopSocket : IDuplexPipe
{
    /// <summary>Kestrel's socket transport asks for half a 4 KiB block before each receive; so does this one.</summary>
    private const int MinimumReceiveSize = 2048;

    /// <summary>
    /// Received bytes held back from the reader while the socket still has more: past this (or half the input pipe's
    /// limit, when that is smaller) the drain flushes on the way, so that one drain buffers little beyond the limit.
    /// </summary>
    private const int MaxUnflushedReceive = 64 * 1024;

    /// <summary>Segments per sendmsg; a longer buffer goes out in several calls.</summary>
    private const int MaxSendVectors = 16;

    private readonly Socket _socket;
    private readonly EventLoop _loop;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly Action _resumeReceive;
    private readonly int _maxUnflushedReceive;
    private readonly TaskCompletionSource _receiveEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ulong _id;

    // Receiving: one thread at a time owns it (the loop on readiness, or whoever resumes a paused flush); readiness
    // seen while another thread owns it is left in _readPending for the owner to pick up before it lets go.
    private int _receiveOwner;
    private int _readPending;
    private int _receivePaused;
    private bool _receiveDone;
    private bool _resumedFlushEnded;
    private volatile bool _peerHungUp;
    private ValueTask<FlushResult> _pausedFlush;

    private readonly bool _failWritesOnSendError;
    private volatile bool _connecting;

    // The send loop waits for data with everything written before sent: a single writer may send straight from its
    // own buffer (SendDirect) instead of through the output pipe.
    private volatile bool _sendIdle;
    private TaskCompletionSource? _writableWaiter;
    private int _shutdown;
    private Exception? _shutdownReason;
    private int _halvesEnded;

    /// <param name="failWritesOnSendError">
    /// A failed send fails the writer's next flush with the error (what a client of a worker wants to know); without
    /// it the flush only reports the pipe completed, as Kestrel's transports do for a client that went away.
    /// </param>
    public EventLoopSocket(Socket socket, EventLoop loop, MemoryPool<byte> pool, long maxInputBuffer, long maxOutputBuffer, bool failWritesOnSendError = false)
    {
        _socket = socket;
        _loop = loop;
        _failWritesOnSendError = failWritesOnSendError;
        socket.Blocking = false;
        _input = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline, maxInputBuffer, maxInputBuffer / 2, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline, maxOutputBuffer, maxOutputBuffer / 2, useSynchronizationContext: false));
        _resumeReceive = ResumeReceive;
        _maxUnflushedReceive = maxInputBuffer > 0 ? (int)Math.Min(MaxUnflushedReceive, Math.Max(MinimumReceiveSize, maxInputBuffer / 2)) : MaxUnflushedReceive;
    }

    public SafeHandle Handle => _socket.SafeHandle;

    public EventLoop Loop => _loop;

    public Socket Socket => _socket;

    /// <summary>What the peer sent; completed at its FIN, or with the error that ended the connection.</summary>
    public PipeReader Input => _input.Reader;

    /// <summary>What to send; completing it ends the connection once everything written has been sent.</summary>
    public PipeWriter Output => _output.Writer;

    /// <summary>The receiving side has ended (FIN, reset, abort, or the reader stopped reading).</summary>
    public Task ReceiveEnded => _receiveEnded.Task;

    /// <summary>
    /// Everything written to <see cref="Output"/> has been sent and the socket is open: a direct send would go now
    /// (unless the socket is full). A hint for the single writer; <see cref="SendDirect"/> checks again.
    /// </summary>
    public bool SendIdle => _sendIdle && Volatile.Read(ref _shutdown) == 0;

    /// <summary>Both sides have ended and the socket is closed.</summary>
    public Task Closed => _closed.Task;

    public void Start()
    {
        _id = _loop.Register(this);
        _ = SendLoopAsync();
    }

    /// <summary>
    /// Connects the (unconnected) socket without blocking, waiting on the loop for the connection to be writable, then
    /// starts it like <see cref="Start"/>. On failure or cancellation the socket is closed and the error thrown: a
    /// <see cref="SocketException"/> with the connect's error, or <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task ConnectAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        _connecting = true;
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _writableWaiter = waiter;
        try
        {
            var inProgress = false;
            try
            {
                _socket.Connect(endpoint);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
                inProgress = true;
            }

            // Registered only now: a socket that is not yet connecting polls as writable (and hung up), which would
            // pass for a finished connect. One in SYN_SENT raises EPOLLOUT when it connects or fails.
            _id = _loop.Register(this);
            if (inProgress)
            {
                await using (cancellationToken.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetCanceled(), waiter))
                {
                    await waiter.Task;
                }

                var error = (SocketError)(int)_socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
                if (error != SocketError.Success)
                {
                    throw new SocketException((int)error);
                }
            }
        }
        catch
        {
            Interlocked.Exchange(ref _writableWaiter, null);
            if (_id != 0)
            {
                _loop.Unregister(_id, _socket.SafeHandle);
            }

            _socket.Dispose();
            throw;
        }

        Interlocked.CompareExchange(ref _writableWaiter, null, waiter);
        _connecting = false;
        _ = SendLoopAsync();

        // Readiness that came while connecting was held back.
        Volatile.Write(ref _readPending, 1);
        TryReceive();
    }

    /// <summary>Shuts the socket down in both directions; pending reads of <see cref="Input"/> end with <paramref name="reason"/>.</summary>
    public void Abort(Exception reason)
    {
        Shutdown(reason);
        _output.Reader.CancelPendingRead();
    }

    /// <summary>Readiness to read (called on the loop thread).</summary>
    public void OnReadable(bool hangUp)
    {
        if (hangUp)
        {
            _peerHungUp = true;
        }

        Volatile.Write(ref _readPending, 1);
        if (!_connecting)
        {
            TryReceive();
        }
    }

    /// <summary>Readiness to write (called on the loop thread): a send waiting for room goes on.</summary>
    /// <remarks>
    /// Almost every event reports the socket writable, and almost never is a send waiting: a plain read skips the
    /// exchange's fence. A waiter published just after the read is safe, as its sender tries once more after publishing.
    /// </remarks>
    public void OnWritable()
    {
        if (Volatile.Read(ref _writableWaiter) is not null)
        {
            Interlocked.Exchange(ref _writableWaiter, null)?.TrySetResult();
        }
    }

    private void TryReceive()
    {
        while (Interlocked.CompareExchange(ref _receiveOwner, 1, 0) == 0)
        {
            if (!_receiveDone && Volatile.Read(ref _receivePaused) == 0)
            {
                if (_resumedFlushEnded)
                {
                    EndReceive(null);
                }
                else
                {
                    ReceiveUntilBlocked();
                }
            }

            Volatile.Write(ref _receiveOwner, 0);
            if (_receiveDone || Volatile.Read(ref _receivePaused) != 0 || Volatile.Read(ref _readPending) == 0)
            {
                return;
            }
        }
    }

    /// <remarks>
    /// Bytes are handed to the reader (flushed) once the socket is drained, not after every receive: a 16 KiB
    /// response arrives in four or five 4 KiB blocks, and a flush per block ran the reader (and its send to the
    /// client) once per block. <see cref="_maxUnflushedReceive"/> bounds what one drain holds back from the reader.
    /// </remarks>
    private unsafe void ReceiveUntilBlocked()
    {
        Volatile.Write(ref _readPending, 0);
        var writer = _input.Writer;
        var unflushed = 0;
        var sizeHint = MinimumReceiveSize;
        while (true)
        {
            var memory = writer.GetMemory(sizeHint);
            nint received;
            fixed (byte* buffer = memory.Span)
            {
                received = LinuxSockets.Receive(_socket.SafeHandle, buffer, memory.Length, 0);
            }

            if (received > 0)
            {
                writer.Advance((int)received);
                unflushed += (int)received;

                // Less than the buffer held means the socket is drained: the next arrival raises a new edge. Not
                // after a hang-up, whose FIN raises none; then the loop reads on until recv says 0.
                var drained = received < memory.Length && !_peerHungUp;
                if (!drained && unflushed < _maxUnflushedReceive)
                {
                    // A full buffer says more is waiting: ask for a larger one next, so that a large body takes a
                    // few receives rather than one per 4 KiB block (the pipe rents one past its pool's block size
                    // from the shared array pool, and gives it back once read).
                    sizeHint = Math.Min(Math.Max(memory.Length, EventLoopMemoryPool.BlockSize) * 4, _maxUnflushedReceive);
                    continue;
                }

                unflushed = 0;
                if (!FlushReceived(writer))
                {
                    return;
                }

                if (drained)
                {
                    return;
                }

                continue;
            }

            if (received == 0)
            {
                // Completing the writer hands over what is still unflushed, then the end.
                EndReceive(null);
                return;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error == EAGAIN)
            {
                if (unflushed > 0)
                {
                    FlushReceived(writer);
                }

                return;
            }

            if (error != EINTR)
            {
                EndReceive(ErrorFor(error, "recv"));
                return;
            }
        }
    }

    /// <summary>
    /// Hands what was received to the reader; false when receiving must stop: the reader is behind (receiving resumes
    /// once it catches up) or gone.
    /// </summary>
    private bool FlushReceived(PipeWriter writer)
    {
#pragma warning disable CA2012 // a paused flush is kept and consumed exactly once, by ResumeReceive
        var flush = writer.FlushAsync();
#pragma warning restore CA2012
        if (!flush.IsCompleted)
        {
            // The reader is behind (the pipe holds its pause threshold): stop receiving until it catches up.
            _pausedFlush = flush;
            Volatile.Write(ref _receivePaused, 1);
            flush.GetAwaiter().UnsafeOnCompleted(_resumeReceive);
            return false;
        }

        if (flush.Result is { IsCompleted: false, IsCanceled: false })
        {
            return true;
        }

        EndReceive(null);
        return false;
    }

    private void ResumeReceive()
    {
        bool ended;
        try
        {
#pragma warning disable CA2012 // called back once the flush completed: the result is there
            ended = _pausedFlush.GetAwaiter().GetResult() is { IsCompleted: true } or { IsCanceled: true };
#pragma warning restore CA2012
        }
        catch (Exception)
        {
            ended = true;
        }

        _pausedFlush = default;
        _resumedFlushEnded = ended;
        Volatile.Write(ref _receivePaused, 0);

        // Data may have been left unread while paused, and it raises no new edge.
        Volatile.Write(ref _readPending, 1);
        TryReceive();
    }

    private void EndReceive(Exception? error)
    {
        _receiveDone = true;
        _input.Writer.Complete(_shutdownReason ?? error);
        _receiveEnded.TrySetResult();
        HalfEnded();
    }

    private async Task SendLoopAsync()
    {
        Exception? error = null;
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                // Idle only while the pipe is empty: flagged after a read that must wait, never while a read would
                // find bytes the writer flushed meanwhile (a direct send then would overtake them).
                var read = reader.ReadAsync();
                ReadResult result;
                if (read.IsCompleted)
                {
                    result = read.Result;
                }
                else
                {
                    _sendIdle = true;
                    result = await read;
                    _sendIdle = false;
                }

                if (result.IsCanceled)
                {
                    break;
                }

                var buffer = result.Buffer;
                var remaining = buffer;
                while (!TrySend(ref remaining))
                {
                    // Waiting for EPOLLOUT: the waiter is published first and the send tried once more, since an edge
                    // that came between the failed send and the publication completed no one.
                    var waiter = new TaskCompletionSource();
                    Volatile.Write(ref _writableWaiter, waiter);
                    if (TrySend(ref remaining))
                    {
                        Interlocked.CompareExchange(ref _writableWaiter, null, waiter);
                        break;
                    }

                    await waiter.Task;
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception exception)
        {
            error = exception;
        }
        finally
        {
            Shutdown(error);
            reader.Complete(_failWritesOnSendError || error is not (ConnectionResetException or ObjectDisposedException) ? error : null);

            // A receive paused on a full input pipe would otherwise wait for a reader that may never come back.
            _input.Writer.CancelPendingFlush();
            HalfEnded();
        }
    }

    /// <summary>
    /// Sends <paramref name="head"/> and then <paramref name="body"/> now, from the caller's buffers (one vectored send
    /// when the socket takes it all), when nothing written to <see cref="Output"/> before them is still unsent; returns
    /// how many bytes went (all, some, or none when the send loop is busy or the socket full). The rest is the caller's
    /// to write to <see cref="Output"/> and flush. Only for a socket with one writer (a connection to a worker carries
    /// one exchange at a time): a direct send must not overlap a write to the pipe. A failed send throws, as the next
    /// flush would have.
    /// </summary>
    public long SendDirect(ReadOnlySpan<byte> head, in ReadOnlySequence<byte> body)
    {
        if (!SendIdle)
        {
            return 0;
        }

        // The head (with as much of the body as one sendmsg takes after it), then the rest of the body as the send
        // loop sends a buffer.
        long total = 0;
        while (total < head.Length)
        {
            var sent = body.IsEmpty ? SendSingle(head[(int)total..]) : SendVectored(head[(int)total..], body);
            if (sent > 0)
            {
                total += sent;
            }
            else if (!InterruptedElseFull())
            {
                return total;
            }
        }

        var rest = body.Slice(total - head.Length);
        TrySend(ref rest);
        return head.Length + body.Length - rest.Length;
    }

    /// <summary>Sends as much of <paramref name="remaining"/> as the socket takes; false once it would block.</summary>
    private bool TrySend(ref ReadOnlySequence<byte> remaining)
    {
        while (!remaining.IsEmpty)
        {
            var sent = remaining.IsSingleSegment ? SendSingle(remaining.First.Span) : SendVectored(default, remaining);
            if (sent > 0)
            {
                remaining = remaining.Slice(sent);
            }
            else if (!InterruptedElseFull())
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// After a send that sent nothing: true when it was interrupted (send again), false when the socket is full
    /// (EAGAIN: wait for room); any other error throws.
    /// </summary>
    private static bool InterruptedElseFull()
    {
        var error = Marshal.GetLastPInvokeError();
        if (error == EAGAIN)
        {
            return false;
        }

        return error == EINTR ? true : throw ErrorFor(error, "sendmsg");
    }

    private unsafe nint SendSingle(ReadOnlySpan<byte> span)
    {
        fixed (byte* data = span)
        {
            var vector = new IoVector { Base = data, Length = (nuint)span.Length };
            var message = new MessageHeader { Vectors = &vector, VectorCount = 1 };
            return SendMessage(_socket.SafeHandle, &message, MsgNoSignal);
        }
    }

    /// <summary>One sendmsg of <paramref name="head"/> (may be empty) and then as many segments of <paramref name="remaining"/> as fit in its vectors.</summary>
    private unsafe nint SendVectored(ReadOnlySpan<byte> head, in ReadOnlySequence<byte> remaining)
    {
        var vectors = stackalloc IoVector[MaxSendVectors + 1];
        var pins = default(SendPins);
        var pinned = 0;
        fixed (byte* headBytes = head)
        {
            var count = 0;
            if (!head.IsEmpty)
            {
                vectors[count++] = new IoVector { Base = headBytes, Length = (nuint)head.Length };
            }

            try
            {
                foreach (var segment in remaining)
                {
                    if (segment.IsEmpty)
                    {
                        continue;
                    }

                    pins[pinned] = segment.Pin();
                    vectors[count++] = new IoVector { Base = pins[pinned].Pointer, Length = (nuint)segment.Length };
                    if (++pinned == MaxSendVectors)
                    {
                        break;
                    }
                }

                var message = new MessageHeader { Vectors = vectors, VectorCount = (nuint)count };
                return SendMessage(_socket.SafeHandle, &message, MsgNoSignal);
            }
            finally
            {
                for (var i = 0; i < pinned; i++)
                {
                    pins[i].Dispose();
                }
            }
        }
    }

    private void Shutdown(Exception? reason)
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0)
        {
            return;
        }

        _shutdownReason = reason ?? new ConnectionAbortedException("The event loop transport's send loop completed gracefully.");
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
            // Reset by the peer or never connected: it is being closed either way.
        }

        // A send waiting for room and a receive waiting for data both find out now: sendmsg fails and recv says 0.
        // The shutdown raises an edge on the loop too; the receive is also queued here so that the end does not
        // depend on it, and so that it runs the input's reader off the stack of whoever aborted.
        OnWritable();
        Volatile.Write(ref _readPending, 1);
        ThreadPool.UnsafeQueueUserWorkItem(static socket => socket.TryReceive(), this, preferLocal: false);
    }

    private void HalfEnded()
    {
        if (Interlocked.Increment(ref _halvesEnded) == 2)
        {
            _loop.Unregister(_id, _socket.SafeHandle);
            _socket.Dispose();
            _closed.TrySetResult();
        }
    }

    private static IOException ErrorFor(int errno, string call) => errno is ECONNRESET or EPIPE
        ? new ConnectionResetException($"{call}: {new Win32Exception(errno).Message}")
        : new IOException($"{call}: {new Win32Exception(errno).Message}");

    [System.Runtime.CompilerServices.InlineArray(MaxSendVectors)]
    private struct SendPins
    {
        private MemoryHandle _first;
    }
}
