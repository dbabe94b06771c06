using System.Net.Sockets;
using AseGateway.Networking.EventLoop;

namespace AseGateway.Tests.Networking.EventLoop;

/// <summary>The loop's socket table: ids that find their socket, and only while it is registered.</summary>
public sealed class SocketTableTests : IDisposable
{
    private readonly EventLoopGroup _loops = new(1, _ => { });
    private readonly List<EventLoopSocket> _sockets = [];

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Socket.Dispose();
        }

        _loops.Dispose();
    }

    [Fact]
    public void Add_GivesIdsThatFindTheirSocket_NeverZero_PastTheFirstArray()
    {
        var table = new SocketTable();
        var ids = new List<ulong>();
        for (var i = 0; i < 200; i++)
        {
            ids.Add(table.Add(NewSocket()));
        }

        Assert.Equal(200, table.Count);
        Assert.Equal(200, ids.Distinct().Count());
        Assert.DoesNotContain(0UL, ids);
        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Same(_sockets[i], table.Find(ids[i]));
        }
    }

    [Fact]
    public void Remove_ThenTheSlotReused_TheOldIdFindsNothing()
    {
        var table = new SocketTable();
        var first = table.Add(NewSocket());

        Assert.True(table.Remove(first));
        Assert.False(table.Remove(first));
        Assert.Null(table.Find(first));
        Assert.Equal(0, table.Count);

        // The same slot, a new generation: an event of the first registration still in flight is dropped.
        var second = table.Add(NewSocket());
        Assert.Equal((uint)first, (uint)second);
        Assert.NotEqual(first, second);
        Assert.Null(table.Find(first));
        Assert.Same(_sockets[1], table.Find(second));
        Assert.False(table.Remove(first));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void Find_AnIdNeverGiven_FindsNothing()
    {
        var table = new SocketTable();
        var id = table.Add(NewSocket());

        Assert.Null(table.Find(id + 1));
        Assert.Null(table.Find(id ^ (1UL << 32)));
        Assert.Null(table.Find(uint.MaxValue));
    }

    private EventLoopSocket NewSocket()
    {
        var socket = new EventLoopSocket(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), _loops.Loops[0], _loops.Pool, 4096, 4096);
        _sockets.Add(socket);
        return socket;
    }
}
