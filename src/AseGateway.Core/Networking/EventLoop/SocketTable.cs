namespace AseGateway.Networking.EventLoop;

/// <summary>
/// The sockets of one loop by the id their epoll registration carries: the slot's index in the low 32 bits and the
/// slot's generation in the high 32, as nginx hands epoll the connection's own pointer with an instance bit. The loop
/// finds a socket with one array read and one compare on every event, where a concurrent dictionary hashed the id and
/// walked a bucket. Slots are taken and freed under a lock (once per connection); lookups take none. A freed slot's
/// generation moves on, so an event of the old registration already collected by a running wait finds no socket.
/// </summary>
internal sealed class SocketTable
{
    private readonly Lock _lock = new();
    private Entry?[] _entries = new Entry?[64];
    private uint[] _generations = new uint[64];
    private readonly Stack<int> _free = new();
    private int _used;
    private int _count;

    /// <summary>Sockets registered now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Puts the socket in a free slot; the id is never 0 (the loop's own wake-up uses it).</summary>
    public ulong Add(EventLoopSocket socket)
    {
        lock (_lock)
        {
            if (!_free.TryPop(out var slot))
            {
                if (_used == _entries.Length)
                {
                    Grow();
                }

                slot = _used++;
            }

            // Generations start at 1: an id is never 0, whatever the slot.
            var generation = ++_generations[slot];
            if (generation == 0)
            {
                generation = _generations[slot] = 1;
            }

            var id = ((ulong)generation << 32) | (uint)slot;
            Volatile.Write(ref _entries[slot], new Entry(socket, id));
            _count++;
            return id;
        }
    }

    /// <summary>Frees the socket's slot; false when the id is not (or no longer) registered.</summary>
    public bool Remove(ulong id)
    {
        lock (_lock)
        {
            var slot = (int)(uint)id;
            if (slot >= _used || _entries[slot] is not { } entry || entry.Id != id)
            {
                return false;
            }

            Volatile.Write(ref _entries[slot], null);
            _free.Push(slot);
            _count--;
            return true;
        }
    }

    /// <summary>The socket registered under the id, or null when it is gone (on the loop thread, with no lock).</summary>
    public EventLoopSocket? Find(ulong id)
    {
        var entries = Volatile.Read(ref _entries);
        var slot = (uint)id;
        return slot < (uint)entries.Length && Volatile.Read(ref entries[slot]) is { } entry && entry.Id == id ? entry.Socket : null;
    }

    private void Grow()
    {
        var entries = new Entry?[_entries.Length * 2];
        Array.Copy(_entries, entries, _entries.Length);
        Array.Resize(ref _generations, entries.Length);
        // Published whole: a lookup reads either the old array or the new one, and both hold every live entry.
        Volatile.Write(ref _entries, entries);
    }

    private sealed record Entry(EventLoopSocket Socket, ulong Id);
}
