using System.Net.Sockets;
using System.Security.Cryptography;
using AseGateway.Networking.EventLoop;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Networking.EventLoop;

/// <summary>
/// Kestrel's output on an event loop, against a real loopback peer: answers sent by the flush itself, the rest through
/// the pipe when the socket is full, and back again, with every byte in order; what a completion leaves; a peer gone.
/// </summary>
public sealed class DirectSendWriterTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly EventLoopTestGroup _group = new();

    public void Dispose()
    {
        _group.Dispose();
    }

    [Fact]
    public async Task Flushes_OfEverySize_ToAPeerThatStallsAtTimes_ArriveWholeAndInOrder()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        var writer = new DirectSendWriter(socket, _group.Group.Pool);

        // Answers from 1 byte to 300 KB (past the writer's 16 blocks), written in pieces of every size the way Kestrel
        // asks for memory (some asks larger than a block). The peer's buffers are small and it stops reading now and
        // then, so some flushes find the socket full and leave the rest in the pipe, and the next ones find the send
        // loop busy or idle again.
        var random = new Random(7);
        var sizes = Enumerable.Range(0, 400).Select(i => i % 40 == 0 ? random.Next(64 * 1024, 300_000) : i % 3 == 0 ? random.Next(8 * 1024, 60 * 1024) : random.Next(1, 6000)).ToArray();
        var payload = RandomNumberGenerator.GetBytes(sizes.Sum());
        var writing = Task.Run(async () =>
        {
            var offset = 0;
            var flushes = 0;
            foreach (var size in sizes)
            {
                var end = offset + size;
                while (offset < end)
                {
                    var memory = writer.GetMemory(random.Next(0, 5000));
                    var count = Math.Min(Math.Min(memory.Length, random.Next(1, 9000)), end - offset);
                    payload.AsSpan(offset, count).CopyTo(memory.Span);
                    writer.Advance(count);
                    offset += count;
                }

                var flush = await writer.FlushAsync();
                Assert.False(flush.IsCompleted, "the connection ended while it was written to");
                flushes++;

                // Now and then the next answer waits (for its request): the send loop catches up and goes idle.
                if (random.Next(8) == 0)
                {
                    await Task.Delay(5);
                }
            }

            Assert.Equal(sizes.Length, flushes);
            await writer.CompleteAsync();
        });

        var received = await PeerReads.AllAsync(peer, Timeout, pauses: new Random(11));

        await writing.WaitAsync(Timeout);
        Assert.Equal(payload.Length, received.Length);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));

        // Both roads were taken, and taken turns: otherwise the order across them went untested.
        Assert.True(writer.FlushesSentDirectly > 10, $"{writer.FlushesSentDirectly} flushes went out directly");
        Assert.True(writer.FlushesThroughThePipe > 10, $"{writer.FlushesThroughThePipe} flushes went through the pipe");
    }

    [Fact]
    public async Task Flush_ToAnIdleSocket_IsSentByTheFlushItself()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        var writer = new DirectSendWriter(socket, _group.Group.Pool);

        // Two pieces in two blocks (the second asks for more than the first block has left): one vectored send.
        var first = writer.GetMemory(100);
        "HTTP/1.1 200 OK\r\n\r\n"u8.CopyTo(first.Span);
        writer.Advance(19);
        var second = writer.GetMemory(first.Length - 19 + 1);
        "hello"u8.CopyTo(second.Span);
        writer.Advance(5);
        var flush = writer.FlushAsync();

        Assert.True(flush.IsCompletedSuccessfully, "a flush to an idle socket waited");
        Assert.False((await flush).IsCompleted);
        Assert.Equal(1, writer.FlushesSentDirectly);
        Assert.Equal(0, writer.FlushesThroughThePipe);
        Assert.Equal(0, writer.UnflushedBytes);
        var buffer = new byte[24];
        for (var read = 0; read < buffer.Length;)
        {
            read += await peer.ReceiveAsync(buffer.AsMemory(read)).AsTask().WaitAsync(Timeout);
        }

        Assert.Equal("HTTP/1.1 200 OK\r\n\r\nhello"u8.ToArray(), buffer);
        await writer.CompleteAsync();
    }

    [Fact]
    public async Task Complete_WithBytesNotYetFlushed_SendsThemBeforeTheEnd()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        var writer = new DirectSendWriter(socket, _group.Group.Pool);

        "answer"u8.CopyTo(writer.GetSpan(6));
        writer.Advance(6);
        Assert.Equal(6, writer.UnflushedBytes);
        await writer.CompleteAsync();

        Assert.Equal("answer"u8.ToArray(), await PeerReads.AllAsync(peer, Timeout));
    }

    [Fact]
    public async Task Flush_ToAPeerThatReset_ReportsTheEndAndClosesTheConnection()
    {
        var (socket, peer) = await ConnectedPairAsync();
        peer.LingerState = new LingerOption(true, 0);
        peer.Dispose(); // RST
        var writer = new DirectSendWriter(socket, _group.Group.Pool);

        // As from Kestrel's own transport: no exception, the flush (soon) says the reader is gone.
        var ended = false;
        for (var i = 0; i < 50 && !ended; i++)
        {
            new byte[1024].CopyTo(writer.GetMemory(1024));
            writer.Advance(1024);
            ended = (await writer.FlushAsync().AsTask().WaitAsync(Timeout)).IsCompleted;
            await Task.Delay(10);
        }

        Assert.True(ended, "flushes to a reset peer kept reporting the connection open");
        await socket.Input.CompleteAsync();
        await writer.CompleteAsync();
        await socket.Closed.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Advance_PastTheMemoryGiven_Throws()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        var writer = new DirectSendWriter(socket, _group.Group.Pool);

        var memory = writer.GetMemory(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Advance(memory.Length + 1));
        await writer.CompleteAsync();
    }

    /// <summary>Small kernel buffers on both ends: a few answers fill the socket, so flushes take the pipe road too.</summary>
    private Task<(EventLoopSocket Socket, Socket Peer)> ConnectedPairAsync() => _group.ConnectedPairAsync(kernelBuffer: 32 * 1024);
}
