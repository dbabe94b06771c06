using System.Net;
using System.Net.Sockets;
using AseGateway.Networking.EventLoop;

namespace AseGateway.Tests.Networking.EventLoop;

/// <summary>
/// Two real event loops for one test, as the tests of the loops' sockets, pool and upstream connections use them:
/// an exception a loop reports (one no caller could see) fails the test when it is disposed.
/// </summary>
internal sealed class EventLoopTestGroup : IDisposable
{
    private readonly List<Exception> _unexpected = [];

    public EventLoopTestGroup()
    {
        Assert.True(LinuxSockets.IsSupported, "the event loop runs on x86-64 Linux only: these tests need such a machine");
        Group = NewGroup();
    }

    public EventLoopGroup Group { get; }

    /// <summary>
    /// An event-loop socket on <see cref="Group"/> connected over loopback to a plain socket, the peer. With
    /// <paramref name="kernelBuffer"/>, the loop socket's send buffer and the peer's receive buffer are that small, so
    /// that a test reaches a full socket sooner.
    /// </summary>
    public async Task<(EventLoopSocket Socket, Socket Peer)> ConnectedPairAsync(long maxInput = 1024 * 1024, bool failWrites = false, int? kernelBuffer = null)
    {
        var timeout = TimeSpan.FromSeconds(30);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (kernelBuffer is { } sendBuffer)
        {
            client.SendBufferSize = sendBuffer;
        }

        var socket = new EventLoopSocket(client, Group.Next(), Group.Pool, maxInput, 64 * 1024, failWrites);
        var accepting = listener.AcceptSocketAsync();
        await socket.ConnectAsync((IPEndPoint)listener.LocalEndpoint, CancellationToken.None).WaitAsync(timeout);
        var peer = await accepting.WaitAsync(timeout);
        if (kernelBuffer is { } receiveBuffer)
        {
            peer.ReceiveBufferSize = receiveBuffer;
        }

        return (socket, peer);
    }

    /// <summary>Another group whose loops report to the same list (the caller disposes it).</summary>
    public EventLoopGroup NewGroup() => new(2, e => { lock (_unexpected) { _unexpected.Add(e); } });

    public void Dispose()
    {
        Group.Dispose();
        lock (_unexpected)
        {
            Assert.Empty(_unexpected);
        }
    }
}
