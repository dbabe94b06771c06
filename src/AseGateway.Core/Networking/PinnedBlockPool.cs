using System.Buffers;
using System.Runtime.InteropServices;

namespace AseGateway.Networking;

/// <summary>
/// What the gateway's two block pools share (<see cref="EventLoop.EventLoopMemoryPool"/> for the event loops,
/// <see cref="PerCoreMemoryPool"/> for Kestrel's socket transport): blocks of one size per pool, pinned for life as
/// Kestrel's are, each given back to its pool when its owner disposes it. The pools differ in their block size and in
/// where they keep free blocks.
/// </summary>
internal abstract class PinnedBlockPool : MemoryPool<byte>
{
    private protected PinnedBlockPool(int blockSize) => MaxBufferSize = blockSize;

    /// <summary>The size of every block.</summary>
    public override int MaxBufferSize { get; }

    /// <summary>A block its owner is done with: kept for a later rent, or left to the collector.</summary>
    private protected abstract void Return(Block block);

    protected override void Dispose(bool disposing)
    {
        // Blocks are plain pinned arrays: the collector frees them with their last reference.
    }

    private protected sealed class Block : IMemoryOwner<byte>
    {
        private readonly PinnedBlockPool _pool;

        public Block(PinnedBlockPool pool)
        {
            _pool = pool;
            // A send or receive takes its address without pinning it.
            var size = pool.MaxBufferSize;
            Memory = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(size, pinned: true), 0, size);
        }

        public Memory<byte> Memory { get; }

        public void Dispose() => _pool.Return(this);
    }
}
