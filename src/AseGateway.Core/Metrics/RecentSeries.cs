using System.Runtime.CompilerServices;

namespace AseGateway.Metrics;

/// <summary>
/// Per thread, the series that recent label sets led to in the gateway's metric tables, found by the labels'
/// references. Under load a thread records the same strings from the snapshot (app and instance names, the
/// forwarder's outcome, Kestrel's protocol constant) over and over, so a table is hashed only when a label set is new
/// to the thread. Different references holding equal text (a reload's new snapshot) miss here and take the table's
/// road, which compares text, to the same series.
/// </summary>
/// <remarks>
/// Sixteen slots a thread, chosen by the table and the identity of the label that varies most (the instance, which a
/// load balancer takes turns between), so that the instances of an app keep a slot each: with one slot per table, two
/// instances served in turn missed on every request. A slot holds the table's id, not the table, so a disposed
/// gateway's table is not kept alive by a thread that recorded for it, and two tables never share a series.
/// The class is not generic over the series' type (the slots hold it as an object, each table's always of one type):
/// a thread-static field of a generic class instantiated over a reference type is found through a runtime helper on
/// every access, where a plain class's is read from the thread's block directly.
/// </remarks>
internal static class RecentSeries
{
    private const int Slots = 16;

    private static int _lastTable;

    [ThreadStatic]
    private static Entry[]? _entries;

    /// <summary>An id for a new table, unique in the process.</summary>
    public static int NewTable() => Interlocked.Increment(ref _lastTable);

    /// <summary>The series for a label set: the thread's recent one, or <paramref name="lookup"/>'s, then remembered.</summary>
    /// <param name="table">The table's id (<see cref="NewTable"/>).</param>
    /// <param name="varying">Which of the labels chooses the slot: the one most likely to differ from record to record.</param>
    public static TSeries Find<TSeries, TState>(int table, string first, string? second, string? third, int number, string varying, TState state, Func<TState, TSeries> lookup)
        where TSeries : class
    {
        var entries = _entries ??= new Entry[Slots];
        ref var entry = ref entries[SlotOf(table, varying, number)];
        if (entry.Table == table && ReferenceEquals(entry.First, first) && ReferenceEquals(entry.Second, second)
            && ReferenceEquals(entry.Third, third) && entry.Number == number)
        {
            // A table's series are all of its one type (the id is the table's alone).
            return Unsafe.As<TSeries>(entry.Series!);
        }

        var series = lookup(state);
        entry = new Entry(table, first, second, third, number, series);
        return series;
    }

    /// <summary>The slot of a label set: its table, the identity of its varying label and its number, spread over the slots.</summary>
    internal static int SlotOf(int table, string varying, int number) => (table + RuntimeHelpers.GetHashCode(varying) + number) & (Slots - 1);

    private readonly record struct Entry(int Table, string? First, string? Second, string? Third, int Number, object? Series);
}
