using AseGateway.Metrics;

namespace AseGateway.Tests.Metrics;

/// <summary>
/// The per-thread shortcut in front of the metric tables: it may skip a table's lookup only for the very label set
/// it remembered, and it must keep the instances an app's requests take turns between in slots of their own.
/// </summary>
public sealed class RecentSeriesTests
{
    /// <summary>
    /// Two instances in different slots are looked up once each; two in one slot evict each other, so every record goes
    /// to the table, and none to the wrong series.
    /// </summary>
    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 200)]
    public void TwoInstancesInTurn_GetTheirOwnSeries_LookedUpOnceEachUnlessTheyShareASlot(bool sameSlot, int expectedLookups)
    {
        var table = RecentSeries.NewTable();
        var first = "web/plan/0";
        var second = WithSlot(table, slotLike: first, same: sameSlot);
        var lookups = new Lookups();

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal("web|web/plan/0", Find(table, "web", first, lookups).Key);
            Assert.Equal($"web|{second}", Find(table, "web", second, lookups).Key);
        }

        Assert.Equal(expectedLookups, lookups.Count);
    }

    [Fact]
    public void EqualText_InAnotherString_GoesToTheTable()
    {
        var table = RecentSeries.NewTable();
        var lookups = new Lookups();
        var instance = "web/plan/0";

        Find(table, "web", instance, lookups);
        Find(table, "web", instance, lookups);
        var copy = new string(instance.AsSpan());
        var series = Find(table, "web", copy, lookups);

        Assert.Equal("web|web/plan/0", series.Key);
        Assert.Equal(2, lookups.Count);
    }

    [Fact]
    public void TwoTables_WithTheSameLabels_DoNotShareASeries()
    {
        var one = RecentSeries.NewTable();
        var other = RecentSeries.NewTable();
        var lookups = new Lookups();

        var fromOne = RecentSeries.Find(one, "web", "web/plan/0", null, 0, "web/plan/0", ("one", lookups), static state => state.lookups.Make(state.Item1));
        var fromOther = RecentSeries.Find(other, "web", "web/plan/0", null, 0, "web/plan/0", ("other", lookups), static state => state.lookups.Make(state.Item1));

        Assert.Equal("one", fromOne.Key);
        Assert.Equal("other", fromOther.Key);
    }

    [Fact]
    public void OtherNumberOrThirdLabel_IsAnotherSeries()
    {
        var table = RecentSeries.NewTable();
        var lookups = new Lookups();
        const string Instance = "web/plan/0";

        var ok = RecentSeries.Find(table, "web", Instance, "HTTP/1.1", 1, Instance, ("2xx", lookups), static state => state.lookups.Make(state.Item1));
        var notFound = RecentSeries.Find(table, "web", Instance, "HTTP/1.1", 3, Instance, ("4xx", lookups), static state => state.lookups.Make(state.Item1));
        var http2 = RecentSeries.Find(table, "web", Instance, "HTTP/2", 1, Instance, ("h2", lookups), static state => state.lookups.Make(state.Item1));

        Assert.Equal(["2xx", "4xx", "h2"], [ok.Key, notFound.Key, http2.Key]);
    }

    private static Series Find(int table, string app, string instance, Lookups lookups) =>
        RecentSeries.Find(table, app, instance, null, 0, instance, (Key: $"{app}|{instance}", Lookups: lookups), static state => state.Lookups.Make(state.Key));

    /// <summary>An instance name whose slot is (or is not) that of <paramref name="slotLike"/>.</summary>
    private static string WithSlot(int table, string slotLike, bool same)
    {
        var slot = RecentSeries.SlotOf(table, slotLike, 0);
        for (var i = 1; i < 10_000; i++)
        {
            var candidate = $"web/plan/{i}";
            if (RecentSeries.SlotOf(table, candidate, 0) == slot == same)
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("no instance name with the slot asked for");
    }

    private sealed record Series(string Key);

    private sealed class Lookups
    {
        public int Count { get; private set; }

        public Series Make(string key)
        {
            Count++;
            return new Series(key);
        }
    }
}
