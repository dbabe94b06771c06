using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AseGateway.Metrics;

/// <summary>
/// A duration histogram recorded on every request: fixed buckets, one or three labels, and per measurement one
/// bucket counter and one sum moved with an interlocked add each. OpenTelemetry's histogram did the same job through
/// its listener, a lookup of the tag list and a lock per point (about 60 ns a measurement uncontended, more with two
/// event loops recording for the same app); /metrics writes these next to its output (<see cref="MetricsExport"/>),
/// in the same shape.
/// </summary>
/// <remarks>
/// Series are keyed by label text, so a reload's new snapshot (equal names, new strings) counts on in the same series.
/// Every label value comes from a bounded set (configured apps and instances, the forwarder's outcomes).
/// </remarks>
internal sealed class DurationHistogram
{
    private readonly int _id = RecentSeries.NewTable();
    private readonly ConcurrentDictionary<SeriesKey, Series> _series = new();
    private readonly long[] _boundTicks;

    public DurationHistogram(string name, string description, string[] labelNames, double[] boundsInSeconds)
    {
        Name = name;
        Description = description;
        LabelNames = labelNames;
        BoundsInSeconds = boundsInSeconds;
        _boundTicks = new long[boundsInSeconds.Length];
        for (var i = 0; i < boundsInSeconds.Length; i++)
        {
            _boundTicks[i] = (long)Math.Round(boundsInSeconds[i] * Stopwatch.Frequency);
        }
    }

    /// <summary>The Prometheus name, unit suffix included (<c>_seconds</c>).</summary>
    public string Name { get; }

    public string Description { get; }

    public string[] LabelNames { get; }

    public double[] BoundsInSeconds { get; }

    /// <summary>One measurement of <paramref name="elapsedTicks"/> (<see cref="Stopwatch"/> ticks) for one label value.</summary>
    public void Record(string label, long elapsedTicks) => Find(label, null, null).Add(BucketOf(elapsedTicks), elapsedTicks);

    /// <summary>One measurement for three label values, in the order of <see cref="LabelNames"/>.</summary>
    public void Record(string first, string second, string third, long elapsedTicks) => Find(first, second, third).Add(BucketOf(elapsedTicks), elapsedTicks);

    /// <summary>
    /// Appends the histogram in the Prometheus text format (or OpenMetrics, which adds the unit line), every series
    /// labelled with <paramref name="scopeLabel"/> first as OpenTelemetry labels its own.
    /// </summary>
    public void WriteTo(StringBuilder text, string scopeLabel, bool openMetrics)
    {
        // One key per label text (the table compares text), listed in the order of their labels on every scrape.
        var series = new List<(string Labels, Series Series)>(_series.Count);
        foreach (var (key, value) in _series)
        {
            series.Add((FormatLabels(scopeLabel, key), value));
        }

        series.Sort(static (a, b) => string.CompareOrdinal(a.Labels, b.Labels));
        text.Append("# TYPE ").Append(Name).Append(" histogram\n");
        if (openMetrics)
        {
            text.Append("# UNIT ").Append(Name).Append(" seconds\n");
        }

        text.Append("# HELP ").Append(Name).Append(' ').Append(Description).Append('\n');
        foreach (var (labels, value) in series)
        {
            long cumulative = 0;
            for (var i = 0; i < value.Buckets.Length; i++)
            {
                cumulative += Volatile.Read(ref value.Buckets[i]);
                var bound = i < BoundsInSeconds.Length ? BoundsInSeconds[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
                text.Append(Name).Append("_bucket{").Append(labels).Append(",le=\"").Append(bound).Append("\"} ").Append(cumulative).Append('\n');
            }

            var seconds = (double)Volatile.Read(ref value.SumTicks) / Stopwatch.Frequency;
            text.Append(Name).Append("_sum{").Append(labels).Append("} ").Append(seconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
            text.Append(Name).Append("_count{").Append(labels).Append("} ").Append(cumulative).Append('\n');
        }
    }

    /// <summary>The bucket a duration falls in: the first bound it does not exceed, else the last (+Inf).</summary>
    private int BucketOf(long elapsedTicks)
    {
        var bounds = _boundTicks;
        var i = 0;
        while (i < bounds.Length && elapsedTicks > bounds[i])
        {
            i++;
        }

        return i;
    }

    private Series Find(string first, string? second, string? third) =>
        RecentSeries.Find(_id, first, second, third, 0, varying: second ?? first, (Table: this, Key: new SeriesKey(first, second, third)), static state => state.Table.Lookup(state.Key));

    private Series Lookup(SeriesKey key) =>
        _series.TryGetValue(key, out var series) ? series : _series.GetOrAdd(key, static (_, buckets) => new Series(buckets), _boundTicks.Length + 1);

    private string FormatLabels(string scopeLabel, SeriesKey key)
    {
        var labels = new StringBuilder(scopeLabel);
        string?[] values = [key.First, key.Second, key.Third];
        for (var i = 0; i < LabelNames.Length; i++)
        {
            labels.Append(',').Append(LabelNames[i]).Append("=\"");
            foreach (var c in values[i] ?? string.Empty)
            {
                // The exposition format's three escapes: a label value can hold any text.
                _ = c switch
                {
                    '\\' => labels.Append("\\\\"),
                    '"' => labels.Append("\\\""),
                    '\n' => labels.Append("\\n"),
                    _ => labels.Append(c),
                };
            }

            labels.Append('"');
        }

        return labels.ToString();
    }

    private readonly record struct SeriesKey(string First, string? Second, string? Third);

    private sealed class Series(int buckets)
    {
        public readonly long[] Buckets = new long[buckets];
        public long SumTicks;

        public void Add(int bucket, long elapsedTicks)
        {
            Interlocked.Increment(ref Buckets[bucket]);
            Interlocked.Add(ref SumTicks, elapsedTicks);
        }
    }
}
