using System.Net;
using System.Net.Sockets;
using AseGateway.Forwarding.FastPath;
using AseGateway.Model;
using Microsoft.Extensions.Time.Testing;

namespace AseGateway.Tests.Forwarding.FastPath;

/// <summary>
/// The fast path's activity timeout: deadlines the pools check once a second, driven here by a fake clock over real
/// loopback connections to a listener that accepts and never answers.
/// </summary>
public sealed class ActivityTimeoutTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly SilentWorker _silent = new();
    private readonly UpstreamPools _pools;
    private readonly UpstreamPool _pool;

    public ActivityTimeoutTests()
    {
        _pools = new UpstreamPools(new SnapshotHolder(), _time);
        _pool = _pools.Find(_silent.Address)!;
    }

    public void Dispose()
    {
        _pools.Dispose();
        _silent.Dispose();
    }

    [Fact]
    public async Task AnExchangeWithoutAByteForTheTimeout_IsCancelled_AndItsConnectionIsNotReused()
    {
        var time = _time;
        var pool = _pool;
        var connection = await OpenAsync(pool);
        connection.BeginExchange();
        var read = connection.ReadAsync(connection.Cancellation.Token).AsTask();

        time.Advance(FastPathSettings.ActivityTimeout - TimeSpan.FromSeconds(2));
        Assert.False(read.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(3));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(connection.EndExchange());
        pool.Close(connection);
    }

    [Fact]
    public async Task WorkerActivity_ExtendsTheDeadline_AndIdleOrFinishedConnectionsAreNeverCancelled()
    {
        var time = _time;
        var pool = _pool;
        var half = FastPathSettings.ActivityTimeout / 2 + TimeSpan.FromSeconds(5);

        var streaming = await OpenAsync(pool);
        var finished = await OpenAsync(pool);
        var idle = await OpenAsync(pool);
        pool.Return(idle, maxIdle: 8);
        streaming.BeginExchange();
        finished.BeginExchange();
        Assert.True(finished.EndExchange());

        time.Advance(half);
        streaming.ExtendDeadline();
        time.Advance(half);

        // Past the timeout since the exchange began, within it since the worker's last byte.
        Assert.False(streaming.Cancellation.IsCancellationRequested);
        Assert.False(finished.Cancellation.IsCancellationRequested);
        Assert.True(idle.IsIdleUsable());

        time.Advance(half);
        Assert.True(streaming.Cancellation.IsCancellationRequested);
        Assert.False(streaming.EndExchange());
        Assert.False(finished.Cancellation.IsCancellationRequested);
        Assert.True(idle.IsIdleUsable());

        pool.Close(streaming);
        pool.Close(finished);
    }

    private static async Task<UpstreamConnection> OpenAsync(UpstreamPool pool)
    {
        Assert.True(pool.TryRent(maxConnections: 8, idleTimeoutMs: 60_000, near: null, out var idle));
        Assert.Null(idle);
        return await UpstreamConnection.ConnectAsync(pool, near: null, CancellationToken.None);
    }

    /// <summary>A loopback listener whose backlog holds the connections: connected, never read from nor answered.</summary>
    private sealed class SilentWorker : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public SilentWorker()
        {
            _listener.Start();
            Address = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";
        }

        public string Address { get; }

        public void Dispose() => _listener.Dispose();
    }
}
