using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace AseGateway.Networking;

/// <summary>
/// Every address, IPv4 and IPv6, as a point on one 128-bit line: IPv4 addresses sit where their IPv4-mapped IPv6
/// form (::ffff:a.b.c.d) does, so one table answers for both families and a mapped peer is treated as IPv4.
/// </summary>
internal static class AddressSpace
{
    private static readonly UInt128 MappedPrefix = (UInt128)0xFFFF << 32;

    public static UInt128 ToKey(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return MappedPrefix | BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }

        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>The inclusive range a prefix covers on the line.</summary>
    public static (UInt128 First, UInt128 Last) ToRange(IPNetwork network)
    {
        var start = ToKey(network.BaseAddress);
        var bits = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 96 + network.PrefixLength : network.PrefixLength;
        var size = bits >= 128 ? UInt128.Zero : UInt128.MaxValue >> bits;
        return (start, start + size);
    }
}

/// <summary>
/// Maps every address to the winning entry among overlapping ranges (the one with the lowest rank), flattened at
/// build time into disjoint segments: a lookup is one binary search, whatever the number of ranges.
/// </summary>
internal sealed class AddressRangeTable
{
    private readonly UInt128[] _starts;
    private readonly int[] _winners;

    private AddressRangeTable(UInt128[] starts, int[] winners)
    {
        _starts = starts;
        _winners = winners;
    }

    /// <summary>Builds the table; an entry's value is what lookups return, its rank decides overlaps (lower wins).</summary>
    public static AddressRangeTable Build(IReadOnlyList<(UInt128 First, UInt128 Last, int Value, int Rank)> ranges)
    {
        // Sweep line: at each boundary the active set changes; the best active entry (lowest rank) owns the segment
        // up to the next boundary. Ended entries are removed lazily from the heap.
        var events = new List<(UInt128 At, bool Start, int Index)>(ranges.Count * 2);
        for (var i = 0; i < ranges.Count; i++)
        {
            events.Add((ranges[i].First, true, i));
            if (ranges[i].Last != UInt128.MaxValue)
            {
                events.Add((ranges[i].Last + 1, false, i));
            }
        }

        events.Sort(static (a, b) => a.At.CompareTo(b.At));
        var active = new PriorityQueue<int, (int Rank, int Index)>();
        var ended = new bool[ranges.Count];
        var starts = new List<UInt128>();
        var winners = new List<int>();
        var e = 0;
        while (e < events.Count)
        {
            var at = events[e].At;
            for (; e < events.Count && events[e].At == at; e++)
            {
                var (_, start, index) = events[e];
                if (start)
                {
                    active.Enqueue(index, (ranges[index].Rank, index));
                }
                else
                {
                    ended[index] = true;
                }
            }

            while (active.TryPeek(out var top, out _) && ended[top])
            {
                active.Dequeue();
            }

            var winner = active.TryPeek(out var best, out _) ? ranges[best].Value : -1;
            if (winners.Count == 0 || winners[^1] != winner)
            {
                starts.Add(at);
                winners.Add(winner);
            }
        }

        if (starts.Count == 0 || starts[0] != UInt128.Zero)
        {
            starts.Insert(0, UInt128.Zero);
            winners.Insert(0, -1);
        }

        return new AddressRangeTable([.. starts], [.. winners]);
    }

    /// <returns>The winning entry's value, or -1 when no range covers the address.</returns>
    public int Find(UInt128 key)
    {
        var index = Array.BinarySearch(_starts, key);
        if (index < 0)
        {
            index = ~index - 1;
        }

        return _winners[index];
    }
}
