using System.Collections.Concurrent;
using System.Net;
using AseGateway.Networking.EventLoop;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// Keep-alive connections to one worker address. Idle connections are reused last-in first-out (the warmest first);
/// one idle longer than the idle timeout, or on which anything arrived while idle, is closed instead of reused. The
/// open count is capped: at the cap the caller hands the request to YARP rather than queueing it.
/// On event loops the idle connections are kept per loop, as nginx keeps an upstream keep-alive cache per worker: a
/// request handled on a loop takes a connection of that loop (or opens one there), so the worker's response comes
/// back to the thread that has the client and the request never crosses cores. Only at the cap does it take another
/// loop's idle connection.
/// </summary>
internal sealed class UpstreamPool
{
    /// <summary>Idle connections by the index of their loop; one stack on the runtime's sockets.</summary>
    private readonly IdleStack[] _idle;

    /// <summary>Every open connection, idle or busy, for the deadline sweep (changes only when one opens or closes).</summary>
    private readonly ConcurrentDictionary<UpstreamConnection, byte> _connections = new();
    private readonly TimeProvider _time;
    private readonly long _activityTimeoutTicks;
    private int _openCount;
    private int _idleCount;
    private volatile bool _retired;

    public UpstreamPool(Uri address, TimeProvider time, EventLoopGroup? loops = null)
    {
        Loops = loops;
        _idle = new IdleStack[loops?.Loops.Count ?? 1];
        for (var i = 0; i < _idle.Length; i++)
        {
            _idle[i] = new IdleStack();
        }

        _time = time;
        _activityTimeoutTicks = (long)(FastPathSettings.ActivityTimeout.TotalSeconds * time.TimestampFrequency);
        Address = address;
        EndPoint = UpstreamConnection.EndPointFor(address);
        LastUsed = Environment.TickCount64;
    }

    public Uri Address { get; }

    public EndPoint EndPoint { get; }

    /// <summary>Where connections are made when the data plane runs on event loops; null for the runtime's sockets.</summary>
    public EventLoopGroup? Loops { get; }

    /// <summary>Connections open now, idle or busy.</summary>
    public int OpenCount => Volatile.Read(ref _openCount);

    /// <summary>Idle connections now, over every loop's stack.</summary>
    public int IdleCount => Volatile.Read(ref _idleCount);

    public long LastUsed { get; private set; }

    /// <summary>
    /// True with an idle connection that is still usable, or true with null and a slot reserved for a new
    /// connection; false when <paramref name="maxConnections"/> are already open.
    /// </summary>
    /// <param name="near">The loop of the client the request came from, whose idle connections are taken first.</param>
    public bool TryRent(int maxConnections, long idleTimeoutMs, EventLoop? near, out UpstreamConnection? idle)
    {
        var now = Environment.TickCount64;
        LastUsed = now;

        // A client off the loops (HTTP/2 runs on Kestrel's socket transport) is no nearer one loop than another: every
        // stack is tried before a new connection. One on a loop: its loop's stack, then a new connection, then the
        // other stacks at the cap.
        var home = near is not null && Loops is { } loops && loops.Owns(near) ? near.Index : -1;
        if (home >= 0 ? TryPopUsable(home, now, idleTimeoutMs, out idle) : TryPopAnyUsable(-1, now, idleTimeoutMs, out idle))
        {
            return true;
        }

        if (Interlocked.Increment(ref _openCount) <= maxConnections)
        {
            return true;
        }

        Interlocked.Decrement(ref _openCount);
        return home >= 0 && TryPopAnyUsable(home, now, idleTimeoutMs, out idle);
    }

    private bool TryPopAnyUsable(int except, long now, long idleTimeoutMs, out UpstreamConnection? idle)
    {
        for (var i = 0; i < _idle.Length; i++)
        {
            if (i != except && TryPopUsable(i, now, idleTimeoutMs, out idle))
            {
                return true;
            }
        }

        idle = null;
        return false;
    }

    private bool TryPopUsable(int stack, long now, long idleTimeoutMs, out UpstreamConnection? idle)
    {
        while (Pop(_idle[stack], out var connection))
        {
            if (now - connection.IdleSince < idleTimeoutMs && connection.IsIdleUsable())
            {
                idle = connection;
                return true;
            }

            Close(connection);
        }

        idle = null;
        return false;
    }

    /// <summary>Gives back a slot reserved by <see cref="TryRent"/> when connecting failed.</summary>
    public void ReleaseSlot() => Interlocked.Decrement(ref _openCount);

    public void Return(UpstreamConnection connection, int maxIdle)
    {
        if (_retired || IdleCount >= maxIdle)
        {
            Close(connection);
            return;
        }

        connection.Reused = true;
        connection.IdleSince = Environment.TickCount64;
        connection.ArmReadAhead();
        Push(_idle[connection.Loop?.Index ?? 0], connection);
    }

    public void Close(UpstreamConnection connection)
    {
        Interlocked.Decrement(ref _openCount);
        _connections.TryRemove(connection, out _);
        connection.Dispose();
    }

    /// <summary>A connection <see cref="UpstreamConnection.ConnectAsync"/> opened in a slot <see cref="TryRent"/> reserved.</summary>
    public void Track(UpstreamConnection connection) => _connections.TryAdd(connection, 0);

    /// <summary>When an exchange starting now times out without a byte from the worker (<see cref="TimeProvider.GetTimestamp"/> units).</summary>
    public long ActivityDeadline() => _time.GetTimestamp() + _activityTimeoutTicks;

    /// <summary>Cancels the exchanges whose activity deadline has passed.</summary>
    public void CancelOverdue(long now)
    {
        foreach (var (connection, _) in _connections)
        {
            connection.CancelIfOverdue(now);
        }
    }

    /// <summary>No longer used (its address left the configuration, or shutdown): idle connections close, returned ones too.</summary>
    public void Retire()
    {
        _retired = true;
        Sweep(0);
    }

    /// <summary>Closes idle connections past the timeout (all of them with 0) or no longer usable; returns how many are still idle.</summary>
    public int Sweep(long idleTimeoutMs)
    {
        var now = Environment.TickCount64;
        var kept = 0;
        var keep = new List<UpstreamConnection>();
        foreach (var stack in _idle)
        {
            keep.Clear();
            while (Pop(stack, out var connection))
            {
                // One the worker closed (or wrote to) while idle goes now rather than at its timeout.
                if (now - connection.IdleSince < idleTimeoutMs && connection.IsIdleUsable())
                {
                    keep.Add(connection);
                }
                else
                {
                    Close(connection);
                }
            }

            // Oldest first, so the warmest ends on top again.
            for (var i = keep.Count - 1; i >= 0; i--)
            {
                Push(stack, keep[i]);
            }

            kept += keep.Count;
        }

        return kept;
    }

    private void Push(IdleStack stack, UpstreamConnection connection)
    {
        Interlocked.Increment(ref _idleCount);
        stack.Push(connection);
    }

    private bool Pop(IdleStack stack, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out UpstreamConnection? connection)
    {
        if (!stack.TryPop(out connection))
        {
            return false;
        }

        Interlocked.Decrement(ref _idleCount);
        return true;
    }
}

/// <summary>
/// One loop's idle connections, last in first out, under a lock that is almost never contended (the loop's own thread
/// takes and returns them; another thread only at the connection cap, for a client off the loops, or in the sweep). A
/// <see cref="ConcurrentStack{T}"/> allocated a node on every push, that is on every request.
/// </summary>
internal sealed class IdleStack
{
    private readonly Lock _lock = new();
    private UpstreamConnection?[] _items = new UpstreamConnection?[16];
    private int _count;

    public void Push(UpstreamConnection connection)
    {
        lock (_lock)
        {
            if (_count == _items.Length)
            {
                Array.Resize(ref _items, _count * 2);
            }

            _items[_count++] = connection;
        }
    }

    public bool TryPop([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out UpstreamConnection? connection)
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                connection = null;
                return false;
            }

            connection = _items[--_count]!;
            _items[_count] = null;
            return true;
        }
    }
}
