using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AseGateway.Networking.EventLoop;

namespace AseGateway.Tests.Networking.EventLoop;

/// <summary>
/// The loop's own recv and sendmsg, which hold the socket's handle themselves (not through the marshaller): bytes
/// move, errno comes back, and a socket closed before the call is refused instead of its number being used.
/// </summary>
public sealed unsafe class LinuxSocketsTests
{
    [Fact]
    public void SendMessage_ThenReceive_MovesTheBytes_AndAnEmptySocketSaysEagain()
    {
        Assert.True(LinuxSockets.IsSupported, "the event loop runs on x86-64 Linux only: these tests need such a machine");
        var (sender, receiver) = ConnectedPair();
        using (sender)
        using (receiver)
        {
            receiver.Blocking = false;
            var payload = "GET / HTTP/1.1\r\n\r\n"u8.ToArray();
            Assert.Equal(payload.Length, SendFrom(sender.SafeHandle, payload));

            var received = new List<byte>();
            var buffer = new byte[64];
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (received.Count < payload.Length && DateTime.UtcNow < deadline)
            {
                var count = ReceiveInto(receiver.SafeHandle, buffer);
                if (count > 0)
                {
                    received.AddRange(buffer[..(int)count]);
                }
                else
                {
                    Assert.Equal(LinuxSockets.EAGAIN, Marshal.GetLastPInvokeError());
                    Thread.Sleep(10);
                }
            }

            Assert.Equal(payload, received.ToArray());
            Assert.Equal(-1, ReceiveInto(receiver.SafeHandle, buffer));
            Assert.Equal(LinuxSockets.EAGAIN, Marshal.GetLastPInvokeError());
        }
    }

    [Fact]
    public void Receive_OnAClosedSocket_Throws_AndSendMessage_Too()
    {
        Assert.True(LinuxSockets.IsSupported, "the event loop runs on x86-64 Linux only: these tests need such a machine");
        var (sender, receiver) = ConnectedPair();
        var senderHandle = sender.SafeHandle;
        var receiverHandle = receiver.SafeHandle;
        sender.Dispose();
        receiver.Dispose();

        Assert.Throws<ObjectDisposedException>(() => ReceiveInto(receiverHandle, new byte[16]));
        Assert.Throws<ObjectDisposedException>(() => SendFrom(senderHandle, new byte[16]));
    }

    [Fact]
    public void Calls_ReleaseTheirReference_SoThatADisposeClosesTheDescriptor()
    {
        Assert.True(LinuxSockets.IsSupported, "the event loop runs on x86-64 Linux only: these tests need such a machine");
        var (sender, receiver) = ConnectedPair();
        using (sender)
        {
            receiver.Blocking = false;
            for (var i = 0; i < 1000; i++)
            {
                Assert.Equal(-1, ReceiveInto(receiver.SafeHandle, new byte[16]));
            }

            // Every call released what it added: the handle closes on dispose, not when a leaked count drops.
            var handle = receiver.SafeHandle;
            receiver.Dispose();
            Assert.True(handle.IsClosed);
        }
    }

    private static nint ReceiveInto(SafeHandle socket, byte[] buffer)
    {
        fixed (byte* into = buffer)
        {
            return LinuxSockets.Receive(socket, into, buffer.Length, 0);
        }
    }

    private static nint SendFrom(SafeHandle socket, byte[] payload)
    {
        fixed (byte* data = payload)
        {
            var vector = new LinuxSockets.IoVector { Base = data, Length = (nuint)payload.Length };
            var message = new LinuxSockets.MessageHeader { Vectors = &vector, VectorCount = 1 };
            return LinuxSockets.SendMessage(socket, &message, LinuxSockets.MsgNoSignal);
        }
    }

    private static (Socket Sender, Socket Receiver) ConnectedPair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        sender.Connect(listener.LocalEndPoint!);
        return (sender, listener.Accept());
    }
}
