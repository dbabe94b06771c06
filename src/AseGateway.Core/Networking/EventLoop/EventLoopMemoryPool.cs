using System.Buffers;
using System.Collections.Concurrent;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// The 4 KiB pinned blocks of the pipes of every socket on one <see cref="EventLoopGroup"/>'s loops, kept per loop as
/// nginx keeps its buffers per worker. A block rented or returned on a loop's thread comes from or goes to that loop's
/// own stack, which only that thread touches: no interlocked operation and no cache line shared with the other cores.
/// A proxied HTTP/1.1 request takes and gives back a block in each of its four pipes (client and worker, in and out),
/// and Kestrel's shared pool paid for each with a concurrent queue's compare-and-swap and a counter on lines every core
/// writes (1.8% of the gateway's CPU). Off the loops (a request's first read on the thread pool, a shutdown) blocks go
/// through a shared queue instead. Each loop keeps at most <see cref="MaxKeptPerLoop"/> free blocks and the queue at
/// most <see cref="MaxKeptShared"/>; a block past those is left to the garbage collector, so what a burst needed
/// does not stay for the process's life.
/// </summary>
internal sealed class EventLoopMemoryPool : PinnedBlockPool
{
    public const int BlockSize = 4096;

    /// <summary>2 MiB of free blocks per loop: about 100 keep-alive connections' worth of a request in flight each.</summary>
    public const int MaxKeptPerLoop = 512;

    public const int MaxKeptShared = 1024;

    private readonly EventLoopGroup _group;
    private readonly Block[][] _kept;
    private readonly int[] _keptCount;
    private readonly ConcurrentQueue<Block> _shared = new();
    private int _sharedCount;

    /// <param name="group">The loops whose threads keep blocks of their own (its loops exist already).</param>
    public EventLoopMemoryPool(EventLoopGroup group)
        : base(BlockSize)
    {
        _group = group;
        _kept = new Block[group.Loops.Count][];
        _keptCount = new int[group.Loops.Count];
        for (var i = 0; i < _kept.Length; i++)
        {
            _kept[i] = new Block[MaxKeptPerLoop];
        }
    }

    /// <summary>Free blocks kept now, on the loops and in the shared queue (for tests).</summary>
    public int KeptCount
    {
        get
        {
            var count = Volatile.Read(ref _sharedCount);
            foreach (var kept in _keptCount)
            {
                count += kept;
            }

            return count;
        }
    }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        var index = OwnLoopIndex();
        if (index >= 0)
        {
            ref var count = ref _keptCount[index];
            if (count > 0)
            {
                var block = _kept[index][--count];
                _kept[index][count] = null!;
                return block;
            }
        }

        if (_shared.TryDequeue(out var shared))
        {
            Interlocked.Decrement(ref _sharedCount);
            return shared;
        }

        return new Block(this);
    }

    private protected override void Return(Block block)
    {
        var index = OwnLoopIndex();
        if (index >= 0)
        {
            ref var count = ref _keptCount[index];
            if (count < MaxKeptPerLoop)
            {
                _kept[index][count++] = block;
                return;
            }
        }

        if (Interlocked.Increment(ref _sharedCount) <= MaxKeptShared)
        {
            _shared.Enqueue(block);
            return;
        }

        Interlocked.Decrement(ref _sharedCount);
    }

    /// <summary>The index of the loop running the caller when it is one of this pool's, else -1.</summary>
    private int OwnLoopIndex()
    {
        var loop = EventLoop.Current;
        return loop is not null && _group.Owns(loop) ? loop.Index : -1;
    }
}
