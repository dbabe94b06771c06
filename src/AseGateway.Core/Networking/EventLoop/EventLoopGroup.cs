namespace AseGateway.Networking.EventLoop;

/// <summary>
/// One <see cref="EventLoop"/> per core, handed out in turn to new sockets (accepted and connected alike): a
/// connection stays on its loop for life, so its events are handled in order by one thread.
/// </summary>
internal sealed class EventLoopGroup : IDisposable
{
    private readonly EventLoop[] _loops;
    private uint _next;

    public EventLoopGroup(int count, Action<Exception> onUnexpected)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _loops = new EventLoop[count];
        for (var i = 0; i < count; i++)
        {
            _loops[i] = new EventLoop($"AseGateway I/O {i}", i, onUnexpected);
        }

        Pool = new EventLoopMemoryPool(this);
    }

    public IReadOnlyList<EventLoop> Loops => _loops;

    /// <summary>The buffers of every socket on the loops: pinned blocks (a send pins nothing), kept per loop.</summary>
    public EventLoopMemoryPool Pool { get; }

    public EventLoop Next() => _loops[Interlocked.Increment(ref _next) % (uint)_loops.Length];

    /// <summary>Whether the loop is one of this group's (each gateway in a process has its own).</summary>
    public bool Owns(EventLoop loop) => loop.Index < _loops.Length && ReferenceEquals(_loops[loop.Index], loop);

    /// <summary>
    /// <paramref name="near"/> when it is one of this group's, else the next in turn: a connection to a worker opened
    /// for a request of a client on a loop goes on that loop, so its response is handled by the thread that has the client.
    /// </summary>
    public EventLoop NearOrNext(EventLoop? near) => near is not null && Owns(near) ? near : Next();

    public void Dispose()
    {
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
    }
}
