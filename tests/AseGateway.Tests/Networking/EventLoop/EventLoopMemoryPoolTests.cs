using System.Buffers;
using System.Net;
using System.Net.Sockets;
using AseGateway.Networking.EventLoop;

namespace AseGateway.Tests.Networking.EventLoop;

/// <summary>
/// The loops' block pool, on a loop's own thread (reached as a real socket's pipe reader is: the receive runs it
/// there) and off the loops: reuse in place, the shared queue, and the bounds on what is kept.
/// </summary>
public sealed class EventLoopMemoryPoolTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly EventLoopTestGroup _group = new();
    private readonly EventLoopGroup _loops;

    public EventLoopMemoryPoolTests()
    {
        _loops = _group.Group;
    }

    public void Dispose()
    {
        _group.Dispose();
    }

    [Fact]
    public async Task OnALoop_TheBlockGivenBackIsTheNextRented_AndItIsAWholeBlock()
    {
        var pool = _loops.Pool;
        await OnLoopThreadAsync(() =>
        {
            var kept = pool.KeptCount;

            var first = pool.Rent();
            first.Dispose();
            var again = pool.Rent(EventLoopMemoryPool.BlockSize);

            Assert.Same(first, again);
            Assert.Equal(EventLoopMemoryPool.BlockSize, again.Memory.Length);
            Assert.Equal(EventLoopMemoryPool.BlockSize, pool.MaxBufferSize);
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(again.Memory, out var array));
            Assert.Equal(EventLoopMemoryPool.BlockSize, array.Array!.Length);
            again.Dispose();
            Assert.Equal(kept, pool.KeptCount);
        });
    }

    [Fact]
    public void OffTheLoops_BlocksGoThroughTheSharedQueue()
    {
        var pool = _loops.Pool;
        var block = pool.Rent();
        Assert.Equal(0, pool.KeptCount);
        block.Dispose();
        Assert.Equal(1, pool.KeptCount);

        Assert.Same(block, pool.Rent());
        Assert.Equal(0, pool.KeptCount);
    }

    [Fact]
    public async Task GivenBackPastTheLimits_KeepsAtMostTheLimits()
    {
        var pool = _loops.Pool;
        const int Count = EventLoopMemoryPool.MaxKeptPerLoop + EventLoopMemoryPool.MaxKeptShared + 100;
        await OnLoopThreadAsync(() =>
        {
            // More than everything kept so far, so every kept block is among them (the socket's pipes hold a few).
            var blocks = new IMemoryOwner<byte>[Count];
            for (var i = 0; i < Count; i++)
            {
                blocks[i] = pool.Rent();
            }

            Assert.Equal(Count, blocks.Distinct().Count());
            foreach (var block in blocks)
            {
                block.Dispose();
            }

            // The loop's own stack fills first, then the shared queue; the last 100 are left to the collector.
            Assert.Equal(EventLoopMemoryPool.MaxKeptPerLoop + EventLoopMemoryPool.MaxKeptShared, pool.KeptCount);
        });
    }

    [Fact]
    public void Rent_LargerThanABlock_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _loops.Pool.Rent(EventLoopMemoryPool.BlockSize + 1));
    }

    /// <summary>
    /// Runs <paramref name="work"/> on one of the loops' threads: as the continuation of a read of a socket on the loop,
    /// registered before its peer sends, which the loop's receive completes and runs right there.
    /// </summary>
    private async Task OnLoopThreadAsync(Action work)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var socket = new EventLoopSocket(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), _loops.Next(), _loops.Pool, 1024 * 1024, 64 * 1024);
        var accepting = listener.AcceptSocketAsync();
        await socket.ConnectAsync((IPEndPoint)listener.LocalEndpoint, CancellationToken.None).WaitAsync(Timeout);
        using var peer = await accepting.WaitAsync(Timeout);

        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
#pragma warning disable CA2012 // read once, in its own continuation: the read has completed by then
        var reading = socket.Input.ReadAsync();
#pragma warning restore CA2012
        Assert.False(reading.IsCompleted, "the peer has sent nothing yet");
        reading.GetAwaiter().UnsafeOnCompleted(() =>
        {
            try
            {
                socket.Input.AdvanceTo(reading.GetAwaiter().GetResult().Buffer.End);
                Assert.NotNull(AseGateway.Networking.EventLoop.EventLoop.Current);
                work();
                ran.SetResult();
            }
            catch (Exception exception)
            {
                ran.SetException(exception);
            }
        });
        await peer.SendAsync("x"u8.ToArray());
        await ran.Task.WaitAsync(Timeout);

        await socket.Output.CompleteAsync();
        await socket.Input.CompleteAsync();
        peer.Shutdown(SocketShutdown.Both);
        await socket.Closed.WaitAsync(Timeout);
    }
}
