using System.Buffers;
using System.Runtime.InteropServices;
using AseGateway.Networking;
using AseGateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Xunit.Abstractions;

namespace AseGateway.Tests.Networking;

/// <summary>
/// The socket transport's block pool: whole pinned blocks, reuse on a core and across cores, the bound on what is
/// kept, and a gateway whose socket-transport connections take their buffers from it.
/// </summary>
public sealed class PerCoreMemoryPoolTests(ITestOutputHelper output)
{
    [Fact]
    public void ABlockGivenBack_IsRentedAgain_AndItIsAWholeBlock()
    {
        // One stack: whichever core the test thread moves to, the block goes back where the next rent looks first.
        using var pool = new PerCoreMemoryPool(cores: 1);

        var first = pool.Rent();
        first.Dispose();
        var again = pool.Rent(PerCoreMemoryPool.BlockSize);

        Assert.Same(first, again);
        Assert.Equal(1, pool.BlocksMade);
        Assert.Equal(PerCoreMemoryPool.BlockSize, again.Memory.Length);
        Assert.Equal(PerCoreMemoryPool.BlockSize, pool.MaxBufferSize);
        Assert.True(MemoryMarshal.TryGetArray<byte>(again.Memory, out var array));
        Assert.Equal(PerCoreMemoryPool.BlockSize, array.Array!.Length);

        again.Dispose();
        Assert.Equal(1, pool.KeptCount);
    }

    [Fact]
    public void AnEmptyCore_BorrowsFromTheOthers_BeforeMakingABlock()
    {
        // Many stacks, most of them empty whatever core this thread is on: a block given back is found from any.
        using var pool = new PerCoreMemoryPool(cores: 64);
        var blocks = Enumerable.Range(0, 8).Select(_ => pool.Rent()).ToArray();
        foreach (var block in blocks)
        {
            block.Dispose();
        }

        Assert.Equal(8, pool.KeptCount);

        var rented = Enumerable.Range(0, 8).Select(_ => pool.Rent()).ToArray();

        Assert.Equal(8, pool.BlocksMade);
        Assert.Equal(0, pool.KeptCount);
        Assert.Equal(blocks.ToHashSet(), rented.ToHashSet());
    }

    [Fact]
    public void GivenBackPastTheLimit_KeepsAtMostTheLimitPerCore()
    {
        using var pool = new PerCoreMemoryPool(cores: 1);
        const int Count = PerCoreMemoryPool.MaxKeptPerCore + 100;
        var blocks = Enumerable.Range(0, Count).Select(_ => pool.Rent()).ToArray();
        Assert.Equal(Count, blocks.Distinct().Count());

        foreach (var block in blocks)
        {
            block.Dispose();
        }

        Assert.Equal(PerCoreMemoryPool.MaxKeptPerCore, pool.KeptCount);
    }

    [Fact]
    public void AskingForMoreThanABlock_IsRefused()
    {
        using var pool = new PerCoreMemoryPool(cores: 2);

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(PerCoreMemoryPool.BlockSize + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PerCoreMemoryPool(cores: 0));
    }

    [Fact]
    public async Task ThreadsRentingAndGivingBack_NeverShareABlock()
    {
        // Blocks cross threads as they do between the socket engine and the thread pool: each is written with its
        // holder's mark and checked before it is given back, so a block handed to two holders at once would show.
        using var pool = new PerCoreMemoryPool(cores: Math.Max(2, Environment.ProcessorCount));
        using var handoff = new System.Collections.Concurrent.BlockingCollection<(IMemoryOwner<byte> Block, byte Mark)>(boundedCapacity: 64);
        const int PerProducer = 20_000;

        // Threads of their own (LongRunning): producers and consumer block on the hand-off by design, and as thread-pool
        // tasks in a loaded test run the consumer could wait in the pool's queue behind the blocked producers until
        // the deadline (it did once, in a fresh-clone CI run).
        var producers = Enumerable.Range(1, 2).Select(id => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < PerProducer; i++)
            {
                var block = pool.Rent();
                var mark = (byte)(id * 64 + (i % 64));
                block.Memory.Span.Fill(mark);
                handoff.Add((block, mark));
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        var consumer = Task.Factory.StartNew(() =>
        {
            var mismatches = 0;
            foreach (var (block, mark) in handoff.GetConsumingEnumerable())
            {
                if (block.Memory.Span.IndexOfAnyExcept(mark) >= 0)
                {
                    mismatches++;
                }

                block.Dispose();
            }

            return mismatches;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        await Task.WhenAll(producers).WaitAsync(TimeSpan.FromSeconds(60));
        handoff.CompleteAdding();
        Assert.Equal(0, await consumer.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(pool.BlocksMade < 2 * PerProducer, $"{pool.BlocksMade} blocks made for {2 * PerProducer} rents: none reused");
    }

    [Fact]
    public async Task SocketTransportConnections_TakeTheirBuffersFromThePool()
    {
        // Off the event loops, the data plane's clear-text listener runs on Kestrel's socket transport, as HTTPS does.
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static([backend]), output, eventLoop: false);

        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));

        var factory = Assert.Single(gateway.Server.DataPlaneServices<IMemoryPoolFactory<byte>>().OfType<PerCoreMemoryPoolFactory>());
        Assert.Same(factory, gateway.Server.DataPlaneServices<IMemoryPoolFactory<byte>>().Last());
        Assert.True(factory.PoolsMade > 0, "Kestrel's socket transport made no pool through the gateway's factory");
        Assert.True(factory.LastPool!.BlocksMade > 0, "the request's connection took no block from the gateway's pool");
    }
}
