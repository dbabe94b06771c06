using System.Diagnostics;
using System.Text;
using AseGateway.Metrics;

namespace AseGateway.Tests.Metrics;

/// <summary>
/// The histograms behind <c>ase_request_duration_seconds</c> and <c>ase_upstream_duration_seconds</c>: Prometheus's
/// bucket rule (a value counts in every bucket whose bound it does not exceed), exact sums, one series per label text.
/// </summary>
public sealed class DurationHistogramTests
{
    private static readonly double[] Bounds = [0.001, 0.01, 0.1];

    [Fact]
    public void Values_OnAndBetweenBounds_AreCountedCumulatively_AboveTheLastOnlyInInf()
    {
        var histogram = new DurationHistogram("test_duration_seconds", "Test.", ["app"], Bounds);
        foreach (var seconds in new[] { 0.0, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.2, 30 })
        {
            histogram.Record("web", Ticks(seconds));
        }

        var samples = Parse(histogram);
        Assert.Equal(2, Bucket(samples, "0.001"));
        Assert.Equal(4, Bucket(samples, "0.01"));
        Assert.Equal(6, Bucket(samples, "0.1"));
        Assert.Equal(8, Bucket(samples, "+Inf"));
        Assert.Equal(8, samples.Sum("test_duration_seconds_count", ("app", "web")));
        Assert.Equal(30.3621, samples.Sum("test_duration_seconds_sum", ("app", "web")), precision: 6);
        Assert.All(samples, sample => Assert.Equal("AseGateway", sample.Labels["otel_scope_name"]));
    }

    [Fact]
    public void EqualText_InOtherStringInstances_IsOneSeries_ThreeLabelsKeptApart()
    {
        var histogram = new DurationHistogram("test_duration_seconds", "Test.", ["app", "app_instance", "outcome"], Bounds);
        histogram.Record("web", "web/plan/0", "ok", Ticks(0.005));

        // A reload's snapshot brings new string instances with the same names.
        histogram.Record(Copy("web"), Copy("web/plan/0"), Copy("ok"), Ticks(0.005));
        histogram.Record("web", "web/plan/1", "ok", Ticks(0.005));
        histogram.Record("web", "web/plan/0", "RequestTimedOut", Ticks(0.5));

        var samples = Parse(histogram);
        Assert.Equal(2, samples.Sum("test_duration_seconds_count", ("app_instance", "web/plan/0"), ("outcome", "ok")));
        Assert.Equal(1, samples.Sum("test_duration_seconds_count", ("app_instance", "web/plan/1")));
        Assert.Equal(1, samples.Sum("test_duration_seconds_count", ("outcome", "RequestTimedOut")));
        Assert.Equal(3, samples.Find("test_duration_seconds_count").Count);
    }

    [Fact]
    public void FourThreads_EachWithItsOwnRecentSeries_LoseNoCount()
    {
        var histogram = new DurationHistogram("test_duration_seconds", "Test.", ["app"], Bounds);
        const int PerThread = 100_000;
        Parallel.For(0, 4, thread =>
        {
            var app = thread % 2 == 0 ? "web" : "shop";
            for (var i = 0; i < PerThread; i++)
            {
                histogram.Record(app, Ticks(0.002));
            }
        });

        var samples = Parse(histogram);
        Assert.Equal(2 * PerThread, samples.Sum("test_duration_seconds_count", ("app", "web")));
        Assert.Equal(2 * PerThread, samples.Sum("test_duration_seconds_count", ("app", "shop")));
    }

    [Fact]
    public void LabelValues_AreEscaped_OpenMetricsAddsTheUnit()
    {
        var histogram = new DurationHistogram("test_duration_seconds", "Test.", ["app"], Bounds);
        histogram.Record("a\"b\\c\nd", Ticks(0.002));

        var text = new StringBuilder();
        histogram.WriteTo(text, "otel_scope_name=\"AseGateway\"", openMetrics: true);

        Assert.Contains("# UNIT test_duration_seconds seconds\n", text.ToString(), StringComparison.Ordinal);
        Assert.Equal("a\"b\\c\nd", Assert.Single(PrometheusText.Parse(text.ToString()).Find("test_duration_seconds_count")).Labels["app"]);
    }

    private static long Ticks(double seconds) => (long)Math.Round(seconds * Stopwatch.Frequency);

    private static string Copy(string text) => new(text.AsSpan());

    private static double Bucket(List<PrometheusSample> samples, string bound) => samples.Sum("test_duration_seconds_bucket", ("le", bound));

    private static List<PrometheusSample> Parse(DurationHistogram histogram)
    {
        var text = new StringBuilder();
        histogram.WriteTo(text, "otel_scope_name=\"AseGateway\"", openMetrics: false);
        return PrometheusText.Parse(text.ToString());
    }
}
