using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using AseGateway.Networking.EventLoop;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Networking.EventLoop;

/// <summary>
/// The event loop's socket against real loopback TCP peers: data both ways, both kinds of back-pressure (a full send
/// buffer, a full input pipe), the peer's FIN arriving with the last bytes, abort, and non-blocking connect.
/// </summary>
public sealed class EventLoopSocketTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly EventLoopTestGroup _group = new();
    private readonly EventLoopGroup _loops;

    public EventLoopSocketTests()
    {
        _loops = _group.Group;
    }

    public void Dispose()
    {
        _group.Dispose();
    }

    [Fact]
    public async Task ConnectAsync_ToListener_CarriesBytesBothWays()
    {
        using var listener = Listen();
        var socket = NewSocket();
        var accepting = listener.AcceptSocketAsync();
        await socket.ConnectAsync(LocalEndPoint(listener), CancellationToken.None).WaitAsync(Timeout);
        using var peer = await accepting.WaitAsync(Timeout);

        await socket.Output.WriteAsync("ping"u8.ToArray());
        Assert.Equal("ping", await ReceiveTextAsync(peer, 4));

        await peer.SendAsync("pong"u8.ToArray());
        Assert.Equal("pong", await ReadTextAsync(socket.Input, 4));

        await socket.Output.CompleteAsync();
        Assert.Equal(0, await peer.ReceiveAsync(new byte[1]).WaitAsync(Timeout));
        peer.Shutdown(SocketShutdown.Send);
        await socket.Closed.WaitAsync(Timeout);
        await socket.Input.CompleteAsync();
        Assert.All(_loops.Loops, loop => Assert.Equal(0, loop.Count));
    }

    [Fact]
    public async Task Output_LargerThanTheSendBuffer_WaitsForRoomAndArrivesIntact()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        var payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);

        // The peer does not read until everything is written: the socket's sends hit EAGAIN and wait for EPOLLOUT.
        var writing = Task.Run(async () =>
        {
            for (var offset = 0; offset < payload.Length; offset += 100_000)
            {
                await socket.Output.WriteAsync(payload.AsMemory(offset, Math.Min(100_000, payload.Length - offset)));
            }

            await socket.Output.CompleteAsync();
        });
        await Task.Delay(200);
        Assert.False(writing.IsCompleted, "8 MiB fit in the socket buffers: nothing waited for room");

        var received = await PeerReads.AllAsync(peer, Timeout);
        await writing.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
    }

    [Fact]
    public async Task SendDirect_GoesOutAtOnceWhenNothingIsPending_AndNotPastBytesStillInThePipe()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;

        Assert.Equal(5, socket.SendDirect("head:"u8, ReadOnlySequence<byte>.Empty));
        Assert.Equal("head:", await ReceiveTextAsync(peer, 5));

        // The peer does not read: a write through the pipe fills the socket and waits for room. A direct send now would
        // overtake it, so none goes; once the pipe's bytes are out, direct sends go again, after them.
        var payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        var writing = socket.Output.WriteAsync(payload).AsTask();
        await Task.Delay(200);
        Assert.False(writing.IsCompleted, "8 MiB fit in the socket buffers: nothing waited for room");
        Assert.Equal(0, socket.SendDirect("tail"u8, ReadOnlySequence<byte>.Empty));

        await ReceiveExactlyAsync(peer, payload, writing);

        // The send loop goes back to waiting just after its last send: until then a direct send still declines.
        Assert.Equal(4, await SendDirectOnceIdleAsync(socket, "tail"u8.ToArray(), ReadOnlySequence<byte>.Empty));
        Assert.Equal("tail", await ReceiveTextAsync(peer, 4));
    }

    [Fact]
    public async Task SendDirect_HeadAndABodyOfManySegments_WhatTheSocketDidNotTakeFollowsThroughThePipe()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;

        // 300 segments of 1 to 64 KiB (many more than one sendmsg's vectors): the peer does not read yet, so the socket
        // takes only part, and the caller writes the rest to the pipe, as a request body's part that did not all go.
        var head = RandomNumberGenerator.GetBytes(700);
        var sizes = Enumerable.Range(0, 300).Select(i => 1024 + (i * 7919 % (63 * 1024))).ToArray();
        var body = Segments.Of(sizes.Select(RandomNumberGenerator.GetBytes).ToArray());
        var sent = socket.SendDirect(head, body);
        Assert.InRange(sent, 1, head.Length + body.Length - 1);

        var writing = Task.Run(async () =>
        {
            if (sent < head.Length)
            {
                socket.Output.Write(head.AsSpan((int)sent));
            }

            foreach (var segment in body.Slice(Math.Max(0, sent - head.Length)))
            {
                socket.Output.Write(segment.Span);
            }

            await socket.Output.FlushAsync();
        });

        await ReceiveExactlyAsync(peer, [.. head, .. body.ToArray()], writing);

        // Once idle again, a head and a small body of several segments go in one call, whole.
        var small = Segments.Of("b"u8.ToArray(), "od"u8.ToArray(), "y"u8.ToArray());
        Assert.Equal(9, await SendDirectOnceIdleAsync(socket, "head:"u8.ToArray(), small));
        Assert.Equal("head:body", await ReceiveTextAsync(peer, 9));
    }

    [Fact]
    public async Task Input_ReaderSlowerThanThePeer_PausesReceivingAndLosesNothing()
    {
        var (socket, peer) = await ConnectedPairAsync(maxInput: 64 * 1024);
        using var _ = peer;
        var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        var sending = Task.Run(async () =>
        {
            await peer.SendAsync(payload);
            peer.Shutdown(SocketShutdown.Send);
        });

        using var received = new MemoryStream();
        while (true)
        {
            var result = await socket.Input.ReadAsync().AsTask().WaitAsync(Timeout);
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            socket.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }

            // Slower than the sender: the input pipe fills to its pause threshold and the receive stops, then resumes.
            await Task.Delay(1);
        }

        await sending.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.ToArray()));
    }

    [Fact]
    public async Task Input_BurstFromOneSend_ReachesTheReaderInAFewReadsNotOnePerBlock()
    {
        // A 40 KiB burst fills ten 4 KiB blocks. Handed over after each receive, the reader ran ten times (and a proxy
        // sent ten pieces to its client); handed over once the socket is drained, it runs once, or a few times if the
        // burst arrives in parts.
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        peer.SendBufferSize = 1024 * 1024;
        var payload = RandomNumberGenerator.GetBytes(40 * 1024);
        await peer.SendAsync(payload);

        // Awaited directly, the read's continuation runs on the loop thread inside the hand-over (the pipe schedules
        // inline), as a proxy's reader does: each hand-over is one pass of this loop.
        using var timeout = new CancellationTokenSource(Timeout);
        using var received = new MemoryStream();
        var reads = 0;
        while (received.Length < payload.Length)
        {
            var result = await socket.Input.ReadAsync(timeout.Token);
            reads++;
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            socket.Input.AdvanceTo(result.Buffer.End);
            Assert.False(result.IsCompleted);
        }

        Assert.Equal(payload, received.ToArray());
        Assert.InRange(reads, 1, 3);
    }

    [Fact]
    public async Task Input_BurstPastTheInputLimit_IsHandedOverInPartsWithinTwiceTheLimit()
    {
        // Holding bytes back until the socket is drained must not hold more than the input pipe's limit allows: with a
        // 16 KiB limit a 1 MiB burst reaches the reader in parts, none larger than twice the limit, and intact.
        const int limit = 16 * 1024;
        var (socket, peer) = await ConnectedPairAsync(maxInput: limit);
        using var _ = peer;
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        var sending = Task.Run(async () =>
        {
            await peer.SendAsync(payload);
            peer.Shutdown(SocketShutdown.Send);
        });

        using var received = new MemoryStream();
        var largest = 0L;
        while (true)
        {
            var result = await socket.Input.ReadAsync().AsTask().WaitAsync(Timeout);
            largest = Math.Max(largest, result.Buffer.Length);
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            socket.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await sending.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.ToArray()));
        Assert.InRange(largest, 1, 2 * limit);
    }

    [Fact]
    public async Task Input_PeerSendsAndClosesAtOnce_DeliversTheBytesThenTheEnd()
    {
        // The FIN comes in the same wake-up as the data: a read of fewer bytes than the buffer must not be taken for
        // "drained" then, since the FIN raises no further edge.
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        await peer.SendAsync("last words"u8.ToArray());
        peer.Shutdown(SocketShutdown.Send);

        var text = "";
        while (true)
        {
            var result = await socket.Input.ReadAsync().AsTask().WaitAsync(Timeout);
            text += System.Text.Encoding.ASCII.GetString(result.Buffer.ToArray());
            socket.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        Assert.Equal("last words", text);
    }

    [Fact]
    public async Task Abort_EndsBothSidesAndUnregisters()
    {
        var (socket, peer) = await ConnectedPairAsync();
        using var _ = peer;
        var reading = socket.Input.ReadAsync().AsTask();

        socket.Abort(new IOException("test abort"));

        var error = await Assert.ThrowsAsync<IOException>(() => reading.WaitAsync(Timeout));
        Assert.Equal("test abort", error.Message);
        Assert.Equal(0, await peer.ReceiveAsync(new byte[1]).WaitAsync(Timeout));
        await socket.Input.CompleteAsync();
        await socket.Output.CompleteAsync();
        await socket.Closed.WaitAsync(Timeout);
        Assert.All(_loops.Loops, loop => Assert.Equal(0, loop.Count));
    }

    [Fact]
    public async Task Output_PeerGone_FailsTheFlushWhenAskedTo()
    {
        var (socket, peer) = await ConnectedPairAsync(failWrites: true);
        peer.LingerState = new LingerOption(true, 0);
        peer.Dispose(); // RST

        var failed = false;
        for (var i = 0; i < 50 && !failed; i++)
        {
            try
            {
                var flush = await socket.Output.WriteAsync(new byte[1024]).AsTask().WaitAsync(Timeout);
                failed = flush.IsCompleted;
            }
            catch (IOException)
            {
                failed = true;
            }

            await Task.Delay(10);
        }

        Assert.True(failed, "writes to a reset peer kept succeeding");
    }

    [Fact]
    public async Task ConnectAsync_NothingListening_ThrowsConnectionRefused()
    {
        using var listener = Listen();
        var endpoint = LocalEndPoint(listener);
        listener.Stop();

        var error = await Assert.ThrowsAsync<SocketException>(() => NewSocket().ConnectAsync(endpoint, CancellationToken.None).WaitAsync(Timeout));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.All(_loops.Loops, loop => Assert.Equal(0, loop.Count));
    }

    [Fact]
    public async Task ConnectAsync_Cancelled_ThrowsAndUnregisters()
    {
        // A listener that never accepts, its queue filled: Linux drops further SYNs, so the next connect stays in
        // progress until it is cancelled.
        using var full = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        full.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        full.Listen(1);
        var endpoint = (IPEndPoint)full.LocalEndPoint!;
        var fillers = new List<Socket>();
        try
        {
            while (fillers.Count < 64)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
                try
                {
                    await filler.ConnectAsync(endpoint, wait.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => NewSocket().ConnectAsync(endpoint, cancel.Token).WaitAsync(Timeout));
            Assert.All(_loops.Loops, loop => Assert.Equal(0, loop.Count));
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    private EventLoopSocket NewSocket(long maxInput = 1024 * 1024, bool failWrites = false) =>
        new(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }, _loops.Next(), _loops.Pool, maxInput, 64 * 1024, failWrites);

    private Task<(EventLoopSocket Socket, Socket Peer)> ConnectedPairAsync(long maxInput = 1024 * 1024, bool failWrites = false) =>
        _group.ConnectedPairAsync(maxInput, failWrites);

    private static TcpListener Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static IPEndPoint LocalEndPoint(TcpListener listener) => (IPEndPoint)listener.LocalEndpoint;

    /// <summary>Receives <paramref name="expected"/>'s length and compares, once <paramref name="writing"/> is done too.</summary>
    private static async Task ReceiveExactlyAsync(Socket peer, byte[] expected, Task writing)
    {
        var received = new byte[expected.Length];
        for (var offset = 0; offset < received.Length;)
        {
            offset += await peer.ReceiveAsync(received.AsMemory(offset)).AsTask().WaitAsync(Timeout);
        }

        await writing.WaitAsync(Timeout);
        Assert.Equal(SHA256.HashData(expected), SHA256.HashData(received));
    }

    /// <summary>The send loop goes back to waiting just after its last send: until then a direct send declines.</summary>
    private static async Task<long> SendDirectOnceIdleAsync(EventLoopSocket socket, byte[] head, ReadOnlySequence<byte> body)
    {
        var deadline = DateTime.UtcNow + Timeout;
        long sent;
        while ((sent = socket.SendDirect(head, body)) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the send loop never went idle after the pipe's bytes were sent");
            await Task.Delay(10);
        }

        return sent;
    }

    private static async Task<string> ReceiveTextAsync(Socket peer, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await peer.ReceiveAsync(buffer.AsMemory(read)).AsTask().WaitAsync(Timeout);
            Assert.NotEqual(0, n);
            read += n;
        }

        return System.Text.Encoding.ASCII.GetString(buffer);
    }

    private static async Task<string> ReadTextAsync(PipeReader reader, int count)
    {
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            if (result.Buffer.Length >= count || result.IsCompleted)
            {
                var text = System.Text.Encoding.ASCII.GetString(result.Buffer.ToArray());
                reader.AdvanceTo(result.Buffer.End);
                return text;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
