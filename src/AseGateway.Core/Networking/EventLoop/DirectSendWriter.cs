using System.Buffers;
using System.IO.Pipelines;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// Kestrel's output to a client on an event loop. What is written between two flushes is kept in pool blocks of its
/// own, and the flush sends it itself, in one vectored sendmsg, when the socket's send loop has nothing unsent: an
/// answer goes out without the output pipe's write, flush and send-loop turn (the request side does the same with
/// <see cref="EventLoopSocket.SendDirect"/>). Only what the socket does not take is copied into the pipe, whose send
/// loop then waits for room and holds the writer to the pipe's limits. While the send loop is busy, and for what does
/// not fit the blocks, writes go to the pipe itself, so nothing overtakes what it holds.
/// </summary>
/// <remarks>
/// One writer at a time, as Kestrel writes an HTTP/1.1 connection's output (under its output producer's lock; the
/// loops serve clear-text HTTP/1.1 only). Blocks are rented per flush and given back once sent: an idle keep-alive
/// connection holds none.
/// </remarks>
internal sealed class DirectSendWriter : PipeWriter
{
    /// <summary>Blocks held between two flushes (64 KiB); a flush of more goes through the pipe.</summary>
    private const int MaxBlocks = 16;

    private readonly EventLoopSocket _socket;
    private readonly PipeWriter _pipe;
    private readonly MemoryPool<byte> _pool;
    private readonly IMemoryOwner<byte>?[] _blocks = new IMemoryOwner<byte>?[MaxBlocks];
    private readonly int[] _lengths = new int[MaxBlocks];
    private Segment[]? _segments;
    private int _blockCount;
    private long _buffered;

    // This flush's writes go to the pipe: the send loop was busy when it began, or the blocks ran out.
    private bool _toPipe;

    public DirectSendWriter(EventLoopSocket socket, MemoryPool<byte> pool)
    {
        _socket = socket;
        _pipe = socket.Output;
        _pool = pool;
    }

    /// <summary>Flushes the socket took whole from the writer's blocks (for tests).</summary>
    public long FlushesSentDirectly { get; private set; }

    /// <summary>Flushes that left bytes to the pipe's send loop (for tests).</summary>
    public long FlushesThroughThePipe { get; private set; }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _toPipe ? _pipe.UnflushedBytes : _buffered;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_toPipe)
        {
            return _pipe.GetMemory(sizeHint);
        }

        var needed = Math.Max(sizeHint, 1);
        if (_blockCount > 0)
        {
            var tail = _blocks[_blockCount - 1]!.Memory;
            var used = _lengths[_blockCount - 1];
            if (tail.Length - used >= needed)
            {
                return tail[used..];
            }
        }

        if (needed <= _pool.MaxBufferSize && _blockCount < MaxBlocks && (_blockCount > 0 || _socket.SendIdle))
        {
            var block = _pool.Rent(needed);
            _blocks[_blockCount] = block;
            _lengths[_blockCount] = 0;
            _blockCount++;
            return block.Memory;
        }

        MoveToPipe(0);
        _toPipe = true;
        return _pipe.GetMemory(sizeHint);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (_toPipe)
        {
            _pipe.Advance(bytes);
            return;
        }

        if (bytes == 0)
        {
            return;
        }

        var last = _blockCount - 1;
        if (last < 0 || bytes < 0 || _lengths[last] + bytes > _blocks[last]!.Memory.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "Advanced past the memory the writer gave.");
        }

        _lengths[last] += bytes;
        _buffered += bytes;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_toPipe || _buffered == 0)
        {
            FlushesThroughThePipe += _toPipe ? 1 : 0;
            _toPipe = false;
            ReturnBlocks();
            return _pipe.FlushAsync(cancellationToken);
        }

        long sent;
        try
        {
            sent = _socket.SendDirect(default, Buffered());
        }
        catch (Exception error)
        {
            // The connection is broken (a reset, a closed pipe): end it as the send loop does when its own send fails.
            // How much went before the error is unknown, so nothing more is sent; the flush reports the end.
            ReturnBlocks();
            _socket.Abort(error);
            return _pipe.FlushAsync(cancellationToken);
        }

        if (sent == _buffered)
        {
            FlushesSentDirectly++;
            ReturnBlocks();
            return default;
        }

        // The socket is full (or the send loop was busy after all): the rest waits in the pipe, in order.
        FlushesThroughThePipe++;
        MoveToPipe(sent);
        return _pipe.FlushAsync(cancellationToken);
    }

    public override void CancelPendingFlush() => _pipe.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
        MoveToPipe(0);
        _pipe.Complete(exception);
    }

    public override ValueTask CompleteAsync(Exception? exception = null)
    {
        MoveToPipe(0);
        return _pipe.CompleteAsync(exception);
    }

    /// <summary>Copies what the blocks hold past <paramref name="skip"/> bytes into the pipe (unflushed) and gives them back.</summary>
    private void MoveToPipe(long skip)
    {
        if (_buffered > skip)
        {
            _pipe.Write(Buffered().Slice(skip));
        }

        ReturnBlocks();
    }

    private ReadOnlySequence<byte> Buffered()
    {
        if (_blockCount == 1)
        {
            return new ReadOnlySequence<byte>(_blocks[0]!.Memory[.._lengths[0]]);
        }

        _segments ??= CreateSegments();
        Segment? next = null;
        var runningIndex = _buffered;
        for (var i = _blockCount - 1; i >= 0; i--)
        {
            runningIndex -= _lengths[i];
            _segments[i].Set(_blocks[i]!.Memory[.._lengths[i]], runningIndex, next);
            next = _segments[i];
        }

        var last = _segments[_blockCount - 1];
        return new ReadOnlySequence<byte>(_segments[0], 0, last, last.Memory.Length);
    }

    private void ReturnBlocks()
    {
        for (var i = 0; i < _blockCount; i++)
        {
            _blocks[i]!.Dispose();
            _blocks[i] = null;
        }

        _blockCount = 0;
        _buffered = 0;
    }

    private static Segment[] CreateSegments()
    {
        var segments = new Segment[MaxBlocks];
        for (var i = 0; i < segments.Length; i++)
        {
            segments[i] = new Segment();
        }

        return segments;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public void Set(ReadOnlyMemory<byte> memory, long runningIndex, Segment? next)
        {
            Memory = memory;
            RunningIndex = runningIndex;
            Next = next;
        }
    }
}
