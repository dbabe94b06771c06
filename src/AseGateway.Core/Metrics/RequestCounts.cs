using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace AseGateway.Metrics;

/// <summary>
/// Cumulative requests by app, instance, status class and protocol, counted once per request. The same table is the
/// <c>ase.requests</c> counter (read at scrape) and the dashboard's per-app totals, so the two never disagree.
/// Every key part is a bounded set (configured apps and instances, five classes, Kestrel's protocol constants).
/// </summary>
internal sealed class RequestCounts
{
    /// <summary>Label value for a request that matched no app (unknown host, malformed request) or reached no instance.</summary>
    public const string None = "(none)";

    private static readonly string[] StatusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    private readonly ConcurrentDictionary<RequestKey, StrongBox<long>> _counts = new();
    private readonly int _id = RecentSeries.NewTable();

    public void Count(string app, string instance, int statusCode, string protocol)
    {
        var statusClass = StatusClass(statusCode);
        var cell = RecentSeries.Find(
            _id, app, instance, protocol, statusClass, varying: instance, (Table: this, Key: new RequestKey(app, instance, statusClass, protocol)), static state => state.Table.Cell(state.Key));
        Interlocked.Increment(ref cell.Value);
    }

    private StrongBox<long> Cell(RequestKey key) =>
        _counts.TryGetValue(key, out var found) ? found : _counts.GetOrAdd(key, static _ => new StrongBox<long>());

    /// <summary>The label for a status code: 1xx … 5xx (anything out of range counts as 5xx).</summary>
    public static string StatusClassLabel(int statusCode) => StatusClasses[StatusClass(statusCode)];

    /// <summary>Totals per app: all requests, 4xx and 5xx answers.</summary>
    public Dictionary<string, AppTotals> TotalsByApp()
    {
        var totals = new Dictionary<string, AppTotals>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, cell) in _counts)
        {
            var count = Volatile.Read(ref cell.Value);
            var sum = totals.GetValueOrDefault(key.App);
            totals[key.App] = new AppTotals(
                sum.Requests + count,
                sum.ClientErrors + (key.StatusClass == 3 ? count : 0),
                sum.ServerErrors + (key.StatusClass == 4 ? count : 0));
        }

        return totals;
    }

    internal IEnumerable<Measurement<long>> Observe()
    {
        var measurements = new List<Measurement<long>>(_counts.Count);
        foreach (var (key, cell) in _counts)
        {
            measurements.Add(new Measurement<long>(Volatile.Read(ref cell.Value), new TagList
            {
                { MetricLabels.App, key.App },
                { MetricLabels.Instance, key.Instance },
                { MetricLabels.StatusClass, StatusClasses[key.StatusClass] },
                { MetricLabels.Protocol, key.Protocol },
            }));
        }

        return measurements;
    }

    private static int StatusClass(int statusCode) => statusCode is >= 100 and < 600 ? (statusCode / 100) - 1 : 4;

    private readonly record struct RequestKey(string App, string Instance, int StatusClass, string Protocol);
}

/// <summary>Cumulative totals of one app since the gateway started.</summary>
internal readonly record struct AppTotals(long Requests, long ClientErrors, long ServerErrors);
