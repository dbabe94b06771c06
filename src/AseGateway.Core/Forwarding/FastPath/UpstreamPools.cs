using System.Collections.Concurrent;
using AseGateway.Configuration;
using AseGateway.Model;
using AseGateway.Networking.EventLoop;

namespace AseGateway.Forwarding.FastPath;

/// <summary>The fast path's settings as the request's snapshot has them (a few reads, nothing allocated).</summary>
internal readonly record struct FastPathSettings(bool Enabled, int MaxConnections, int MaxIdle, long IdleTimeoutMs)
{
    /// <summary>YARP's default activity timeout: no byte from the worker for this long ends the exchange with 504.</summary>
    public static readonly TimeSpan ActivityTimeout = TimeSpan.FromSeconds(100);

    public static FastPathSettings From(GatewaySnapshot snapshot)
    {
        var config = snapshot.Config;
        var forwarding = config.FrontEnd?.Forwarding;

        // With tracing on, YARP's forwarding span and HttpClient's client span are part of the trace: YARP forwards.
        var enabled = (forwarding?.FastPath ?? ConfigDefaults.FastPath) && config.Observability?.Tracing?.Enabled != true;
        return new FastPathSettings(
            enabled,
            forwarding?.MaxConnectionsPerInstance ?? ConfigDefaults.FastPathMaxConnectionsPerInstance,
            forwarding?.MaxIdleConnectionsPerInstance ?? ConfigDefaults.FastPathMaxIdleConnectionsPerInstance,
            (forwarding?.IdleTimeoutSeconds ?? ConfigDefaults.FastPathIdleTimeoutSeconds) * 1000L);
    }
}

/// <summary>
/// One <see cref="UpstreamPool"/> per worker address, created on first use; a timer closes connections idle past
/// the timeout and forgets pools of addresses no longer used (instances replaced or removed).
/// </summary>
internal sealed class UpstreamPools : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often exchanges' activity deadlines are checked: the timeout fires up to this much late.</summary>
    private static readonly TimeSpan DeadlineInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, UpstreamPool?> _pools = new(StringComparer.Ordinal);
    private readonly SnapshotHolder _snapshots;
    private readonly TimeProvider _time;
    private readonly ITimer _sweep;
    private readonly ITimer _deadlines;
    private readonly EventLoopGroup? _loops;

    /// <param name="loops">The event loops, when the data plane runs on them: connections to workers go there too.</param>
    public UpstreamPools(SnapshotHolder snapshots, TimeProvider time, EventLoopGroup? loops = null)
    {
        _snapshots = snapshots;
        _time = time;
        _loops = loops;
        _sweep = time.CreateTimer(static state => ((UpstreamPools)state!).Sweep(), this, SweepInterval, SweepInterval);
        // One periodic check for every exchange rather than a timer armed and reset by each one (CancelAfter and
        // TryReset took the timer queue's lock twice per request).
        _deadlines = time.CreateTimer(static state => ((UpstreamPools)state!).CancelOverdue(), this, DeadlineInterval, DeadlineInterval);
    }

    /// <summary>The pool for a destination address, or null when the fast path cannot serve it (not plain http://, a path prefix).</summary>
    public UpstreamPool? Find(string address) =>
        _pools.TryGetValue(address, out var pool) ? pool : _pools.GetOrAdd(address, static (a, pools) => Create(a, pools._time, pools._loops), this);

    /// <summary>Every pool in use now (tests and the dashboard read the counts).</summary>
    public IEnumerable<UpstreamPool> All()
    {
        foreach (var (_, pool) in _pools)
        {
            if (pool is not null)
            {
                yield return pool;
            }
        }
    }

    public void Dispose()
    {
        _sweep.Dispose();
        _deadlines.Dispose();
        foreach (var (_, pool) in _pools)
        {
            pool?.Retire();
        }
    }

    private static UpstreamPool? Create(string address, TimeProvider time, EventLoopGroup? loops)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/"
            || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            return null;
        }

        return new UpstreamPool(uri, time, loops);
    }

    private void CancelOverdue()
    {
        var now = _time.GetTimestamp();
        foreach (var (_, pool) in _pools)
        {
            pool?.CancelOverdue(now);
        }
    }

    private void Sweep()
    {
        if (!_snapshots.HasSnapshot)
        {
            return;
        }

        var idleTimeoutMs = FastPathSettings.From(_snapshots.Current).IdleTimeoutMs;
        var now = Environment.TickCount64;
        foreach (var (address, pool) in _pools)
        {
            if (pool is null)
            {
                continue;
            }

            pool.Sweep(idleTimeoutMs);
            if (pool.OpenCount == 0 && now - pool.LastUsed > idleTimeoutMs && _pools.TryRemove(address, out _))
            {
                pool.Retire();
            }
        }
    }
}
