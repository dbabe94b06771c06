using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace AseGateway.Networking;

/// <summary>
/// The pinned blocks of the connections that Kestrel's socket transport carries (HTTPS, h2c and the management API;
/// clear-text HTTP/1.1 runs on the event loops, whose pool is <see cref="EventLoop.EventLoopMemoryPool"/>): 16 KiB
/// each, kept in a stack per core as the runtime's shared array pool keeps its arrays.
/// </summary>
/// <remarks>
/// <para>
/// Kestrel's own pool keeps every free block in one concurrent queue and counts each rent and return, and the bytes
/// pooled, with interlocked adds on fields next to each other: every block taken or given back by a thread of one core
/// pulls those lines from the other. On this transport the blocks flow between the socket engine's threads and the
/// thread pool's, and in a profile of 256 KiB uploads over HTTP/2 + TLS the pool's rent and return were 5.6% of the
/// gateway's CPU. Here a thread takes from and gives back to its core's stack under that stack's lock, which the other
/// cores rarely touch; an empty stack borrows from the others before a new block is made.
/// </para>
/// <para>
/// A block is 16 KiB, the largest TLS record, where Kestrel's are 4 KiB. Kestrel's pipes ask for 4 KiB and use the
/// whole block they get: with 4 KiB blocks an HTTP/2 + TLS upload went through its four stages (the socket, the TLS
/// stream's pipe, HTTP/2's input copy, the stream's body) 4 KiB at a time, each record decrypted and copied out in four
/// reads; now a record is received, decrypted and handed on whole. A small request's stages still take a block each,
/// only more of it unused, and untouched pages of a fresh block are not resident.
/// </para>
/// <para>
/// A stack keeps at most <see cref="MaxKeptPerCore"/> free blocks and a block past that is left to the garbage
/// collector, so what a burst needed does not stay for the process's life (Kestrel's pool evicts its idle blocks on a
/// timer instead). Kept too few, a pool making and dropping blocks costs more than it saves: 64 per core cost 4-7% CPU
/// per request over HTTP/2 at 128 streams in flight, each holding blocks at three or four stages.
/// </para>
/// </remarks>
internal sealed class PerCoreMemoryPool : PinnedBlockPool
{
    public const int BlockSize = 16384;

    /// <summary>4 MiB of free blocks per core: a few hundred streams' worth of blocks in flight.</summary>
    public const int MaxKeptPerCore = 256;

    private readonly CoreStack[] _stacks;
    private long _blocksMade;

    public PerCoreMemoryPool(int cores)
        : base(BlockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cores, 1);
        _stacks = new CoreStack[cores];
        for (var i = 0; i < cores; i++)
        {
            _stacks[i] = new CoreStack();
        }
    }

    /// <summary>Blocks this pool has made (a rent that found none free), for tests and diagnostics.</summary>
    public long BlocksMade => Interlocked.Read(ref _blocksMade);

    /// <summary>Free blocks kept now, over every core's stack (for tests).</summary>
    public int KeptCount
    {
        get
        {
            var count = 0;
            foreach (var stack in _stacks)
            {
                count += stack.Count;
            }

            return count;
        }
    }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        var home = HomeIndex();
        for (var i = 0; i < _stacks.Length; i++)
        {
            var index = home + i;
            if (_stacks[index < _stacks.Length ? index : index - _stacks.Length].TryPop() is { } block)
            {
                return block;
            }
        }

        Interlocked.Increment(ref _blocksMade);
        return new Block(this);
    }

    private protected override void Return(Block block) => _stacks[HomeIndex()].TryPush(block);

    private int HomeIndex() => (int)((uint)Thread.GetCurrentProcessorId() % (uint)_stacks.Length);

    /// <summary>One core's free blocks. Padded on both sides so that two cores' stacks never share a cache line.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private sealed class CoreStack
    {
#pragma warning disable CS0169, IDE0051 // Padding, never read.
        private readonly CacheLinePadding _before;
#pragma warning restore CS0169, IDE0051
        private readonly Lock _lock = new();
        private readonly Block?[] _blocks = new Block?[MaxKeptPerCore];
        private int _count;
#pragma warning disable CS0169, IDE0051
        private readonly CacheLinePadding _after;
#pragma warning restore CS0169, IDE0051

        public int Count => Volatile.Read(ref _count);

        public Block? TryPop()
        {
            // An empty stack is passed over without its lock: a rent only borrows from the others when they have any.
            if (Volatile.Read(ref _count) == 0)
            {
                return null;
            }

            lock (_lock)
            {
                if (_count == 0)
                {
                    return null;
                }

                var block = _blocks[--_count];
                _blocks[_count] = null;
                return block;
            }
        }

        public void TryPush(Block block)
        {
            lock (_lock)
            {
                if (_count < _blocks.Length)
                {
                    _blocks[_count++] = block;
                }
            }
        }
    }

    [StructLayout(LayoutKind.Sequential, Size = 64)]
    private struct CacheLinePadding;
}

/// <summary>
/// Kestrel's socket transport takes its memory pool from the <see cref="IMemoryPoolFactory{T}"/> registered last:
/// registered after Kestrel's, this gives it a <see cref="PerCoreMemoryPool"/>.
/// </summary>
internal sealed class PerCoreMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private int _poolsMade;

    /// <summary>Pools made so far (one per transport), for tests.</summary>
    public int PoolsMade => Volatile.Read(ref _poolsMade);

    /// <summary>The pool made last, for tests.</summary>
    public PerCoreMemoryPool? LastPool { get; private set; }

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new PerCoreMemoryPool(Environment.ProcessorCount);
        LastPool = pool;
        Interlocked.Increment(ref _poolsMade);
        return pool;
    }
}
