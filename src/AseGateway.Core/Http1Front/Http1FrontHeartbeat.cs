namespace AseGateway.Http1Front;

/// <summary>A connection the heartbeat watches while it waits for a request.</summary>
internal interface IHeartbeatWatched
{
    /// <summary>Called once a second with <see cref="Environment.TickCount64"/>; the connection ends a wait that has lasted too long.</summary>
    void OnHeartbeat(long now);
}

/// <summary>
/// Kestrel's way with idle and slow connections: one timer for all of them, a tick a second, instead of a timer armed
/// and disarmed around every read. A connection only writes the time it started waiting, so the per-request cost is
/// two stores; the timer walks the watched connections and each cancels its own read when its wait is over.
/// </summary>
internal sealed class Http1FrontHeartbeat : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly HashSet<IHeartbeatWatched> _watched = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private IHeartbeatWatched[] _walk = [];
    private int _beating;

    public Http1FrontHeartbeat()
    {
        _timer = new Timer(static state => ((Http1FrontHeartbeat)state!).Beat(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public void Add(IHeartbeatWatched connection)
    {
        lock (_lock)
        {
            if (_watched.Add(connection) && _watched.Count == 1)
            {
                _timer.Change(Interval, Interval);
            }
        }
    }

    public void Remove(IHeartbeatWatched connection)
    {
        lock (_lock)
        {
            _watched.Remove(connection);
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Beat()
    {
        // A tick that overran its second is not joined by the next one: both would walk the same array.
        if (Interlocked.Exchange(ref _beating, 1) != 0)
        {
            return;
        }

        try
        {
            Walk();
        }
        finally
        {
            Volatile.Write(ref _beating, 0);
        }
    }

    private void Walk()
    {
        IHeartbeatWatched[] walk;
        int count;
        lock (_lock)
        {
            count = _watched.Count;
            if (count == 0)
            {
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                return;
            }

            if (_walk.Length < count)
            {
                _walk = new IHeartbeatWatched[Math.Max(count, _walk.Length * 2)];
            }

            walk = _walk;
            _watched.CopyTo(walk);
        }

        var now = Environment.TickCount64;
        for (var i = 0; i < count; i++)
        {
            walk[i].OnHeartbeat(now);
            walk[i] = null!;
        }
    }
}
