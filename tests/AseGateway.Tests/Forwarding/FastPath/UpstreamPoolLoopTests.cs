using System.Net;
using System.Net.Sockets;
using AseGateway.Forwarding.FastPath;
using AseGateway.Networking.EventLoop;
using AseGateway.Tests.Networking.EventLoop;

namespace AseGateway.Tests.Forwarding.FastPath;

/// <summary>
/// On event loops the pool keeps its idle connections per loop, as nginx keeps an upstream keep-alive cache per
/// worker: a request from a client on one loop reuses and opens connections on that loop, and takes another loop's
/// only at the cap. Real loopback connections to a listener that accepts and stays silent.
/// </summary>
public sealed class UpstreamPoolLoopTests : IDisposable
{
    private const int MaxIdle = 8;
    private const long IdleTimeoutMs = 60_000;
    private readonly EventLoopTestGroup _group = new();
    private readonly EventLoopGroup _loops;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly UpstreamPool _pool;

    public UpstreamPoolLoopTests()
    {
        _loops = _group.Group;
        _listener.Start();
        _pool = new UpstreamPool(new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/"), TimeProvider.System, _loops);
    }

    private EventLoop Loop0 => _loops.Loops[0];

    private EventLoop Loop1 => _loops.Loops[1];

    public void Dispose()
    {
        _pool.Retire();
        _group.Dispose();
        _listener.Dispose();
    }

    [Fact]
    public async Task AConnectionOpenedForAClientOnALoop_IsOnThatLoop_AndReusedOnlyFromIt()
    {
        var onLoop1 = await OpenAsync(near: Loop1, maxConnections: 8);
        Assert.Same(Loop1, onLoop1.Loop);
        _pool.Return(onLoop1, MaxIdle);

        // A client on the other loop gets a slot for a connection of its own, not loop 1's idle one.
        Assert.True(_pool.TryRent(maxConnections: 8, IdleTimeoutMs, Loop0, out var forLoop0));
        Assert.Null(forLoop0);
        _pool.ReleaseSlot();

        Assert.True(_pool.TryRent(maxConnections: 8, IdleTimeoutMs, Loop1, out var again));
        Assert.Same(onLoop1, again);
        _pool.Close(again!);
        Assert.Equal(0, _pool.OpenCount);
    }

    [Fact]
    public async Task AtTheCap_AClientTakesAnotherLoopsIdleConnection_AndOffTheLoopsAnyIsTaken()
    {
        var onLoop1 = await OpenAsync(near: Loop1, maxConnections: 1);
        _pool.Return(onLoop1, MaxIdle);

        Assert.True(_pool.TryRent(maxConnections: 1, IdleTimeoutMs, Loop0, out var stolen));
        Assert.Same(onLoop1, stolen);
        Assert.False(_pool.TryRent(maxConnections: 1, IdleTimeoutMs, Loop0, out _));

        _pool.Return(stolen!, MaxIdle);
        Assert.Equal(1, _pool.IdleCount);

        // A client off the loops (HTTP/2 on Kestrel's sockets) takes an idle connection of any loop before opening one.
        Assert.True(_pool.TryRent(maxConnections: 8, IdleTimeoutMs, near: null, out var any));
        Assert.Same(onLoop1, any);
        Assert.Equal(0, _pool.IdleCount);
        _pool.Close(any!);
    }

    [Fact]
    public async Task ALoopOfAnotherGroup_CountsAsNoLoop()
    {
        using var other = _group.NewGroup();
        var connection = await OpenAsync(near: other.Loops[1], maxConnections: 8);
        Assert.True(_loops.Owns(connection.Loop!));
        Assert.False(_loops.Owns(other.Loops[1]));
        _pool.Close(connection);
    }

    [Fact]
    public async Task ManyIdleOnOneLoop_AreAllKept_AndTakenBackWarmestFirst()
    {
        // More than the stack's first array holds: it grows, and the order stays last in, first out.
        const int Count = 40;
        var opened = new List<UpstreamConnection>();
        for (var i = 0; i < Count; i++)
        {
            opened.Add(await OpenAsync(near: Loop0, maxConnections: Count));
        }

        foreach (var connection in opened)
        {
            _pool.Return(connection, maxIdle: Count);
        }

        Assert.Equal(Count, _pool.IdleCount);
        for (var i = Count - 1; i >= 0; i--)
        {
            Assert.True(_pool.TryRent(maxConnections: Count, IdleTimeoutMs, Loop0, out var taken));
            Assert.Same(opened[i], taken);
        }

        Assert.Equal(0, _pool.IdleCount);
        opened.ForEach(_pool.Close);
        Assert.Equal(0, _pool.OpenCount);
    }

    private async Task<UpstreamConnection> OpenAsync(EventLoop near, int maxConnections)
    {
        Assert.True(_pool.TryRent(maxConnections, IdleTimeoutMs, near, out var idle));
        Assert.Null(idle);
        return await UpstreamConnection.ConnectAsync(_pool, near, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }
}
