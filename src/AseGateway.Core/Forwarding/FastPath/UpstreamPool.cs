using System.Collections.Concurrent;
using System.Net;
using AseGateway.Networking.EventLoop;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// Keep-alive connections to one worker address. Idle connections are reused last-in first-out (the warmest first);
/// one idle longer than the idle timeout, or on which anything arrived while idle, is closed instead of reused. The
/// open count is capped: at the cap the caller hands the request to YARP rather than queueing it.
/// </summary>
internal sealed class UpstreamPool
{
    private readonly ConcurrentStack<UpstreamConnection> _idle = new();

    /// <summary>Every open connection, idle or busy, for the deadline sweep (changes only when one opens or closes).</summary>
    private readonly ConcurrentDictionary<UpstreamConnection, byte> _connections = new();
    private readonly TimeProvider _time;
    private readonly long _activityTimeoutTicks;
    private int _openCount;
    private volatile bool _retired;

    public UpstreamPool(Uri address, TimeProvider time, EventLoopGroup? loops = null)
    {
        Loops = loops;
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

    public int IdleCount => _idle.Count;

    public long LastUsed { get; private set; }

    /// <summary>
    /// True with an idle connection that is still usable, or true with null and a slot reserved for a new
    /// connection; false when <paramref name="maxConnections"/> are already open.
    /// </summary>
    public bool TryRent(int maxConnections, long idleTimeoutMs, out UpstreamConnection? idle)
    {
        var now = Environment.TickCount64;
        LastUsed = now;
        while (_idle.TryPop(out var connection))
        {
            if (now - connection.IdleSince < idleTimeoutMs && connection.IsIdleUsable())
            {
                idle = connection;
                return true;
            }

            Close(connection);
        }

        idle = null;
        if (Interlocked.Increment(ref _openCount) > maxConnections)
        {
            Interlocked.Decrement(ref _openCount);
            return false;
        }

        return true;
    }

    /// <summary>Gives back a slot reserved by <see cref="TryRent"/> when connecting failed.</summary>
    public void ReleaseSlot() => Interlocked.Decrement(ref _openCount);

    public void Return(UpstreamConnection connection, int maxIdle)
    {
        if (_retired || _idle.Count >= maxIdle)
        {
            Close(connection);
            return;
        }

        connection.Reused = true;
        connection.IdleSince = Environment.TickCount64;
        connection.ArmReadAhead();
        _idle.Push(connection);
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
        var keep = new List<UpstreamConnection>();
        while (_idle.TryPop(out var connection))
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
            _idle.Push(keep[i]);
        }

        return keep.Count;
    }
}
