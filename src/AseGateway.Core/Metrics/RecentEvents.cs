namespace AseGateway.Metrics;

/// <summary>
/// The last few events of one kind (WAF blocks, NSG denials) for the dashboard: a fixed ring that overwrites the
/// oldest, so a flood of refusals costs a bounded amount of memory and no allocation per event.
/// </summary>
internal sealed class RecentEvents<T>
{
    public const int DefaultCapacity = 50;

    private readonly T[] _ring;
    private readonly Lock _gate = new();
    private long _written;

    public RecentEvents(int capacity = DefaultCapacity) => _ring = new T[capacity];

    public void Add(in T item)
    {
        lock (_gate)
        {
            _ring[_written % _ring.Length] = item;
            _written++;
        }
    }

    /// <summary>Newest first.</summary>
    public List<T> Newest()
    {
        lock (_gate)
        {
            var count = (int)Math.Min(_written, _ring.Length);
            var list = new List<T>(count);
            for (var i = 1; i <= count; i++)
            {
                list.Add(_ring[(_written - i) % _ring.Length]);
            }

            return list;
        }
    }
}
