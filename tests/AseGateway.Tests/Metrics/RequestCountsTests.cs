using AseGateway.Metrics;

namespace AseGateway.Tests.Metrics;

/// <summary>
/// The request table behind <c>ase_requests_total</c> and the dashboard: each thread remembers the cell it counted
/// into last, and that shortcut must never count into the wrong series.
/// </summary>
public sealed class RequestCountsTests
{
    private const string Http11 = "HTTP/1.1";

    [Fact]
    public void EqualText_InOtherStringInstances_CountsIntoTheSameSeries()
    {
        var counts = new RequestCounts();
        counts.Count("web", "web/plan/0", 200, Http11);

        // A reload's snapshot brings new string instances with the same names.
        counts.Count(Copy("web"), Copy("web/plan/0"), 204, Copy(Http11));
        counts.Count("web", "web/plan/0", 200, Http11);

        var series = Assert.Single(Series(counts));
        Assert.Equal(("web", "web/plan/0", "2xx", Http11, 3L), series);
    }

    [Fact]
    public void KeyChanges_OnOneThread_EachKeyKeepsItsOwnCount()
    {
        var counts = new RequestCounts();
        counts.Count("web", "web/plan/0", 200, Http11);
        counts.Count("web", "web/plan/0", 404, Http11);
        counts.Count("web", "web/plan/1", 200, Http11);
        counts.Count("web", "web/plan/0", 200, "HTTP/2");
        counts.Count("shop", "web/plan/0", 200, Http11);
        counts.Count("web", "web/plan/0", 200, Http11);

        Assert.Equal(
            [
                ("shop", "web/plan/0", "2xx", Http11, 1L),
                ("web", "web/plan/0", "2xx", Http11, 2L),
                ("web", "web/plan/0", "2xx", "HTTP/2", 1L),
                ("web", "web/plan/0", "4xx", Http11, 1L),
                ("web", "web/plan/1", "2xx", Http11, 1L),
            ],
            Series(counts));
    }

    [Fact]
    public void TwoTables_CountedFromOneThread_DoNotShareCells()
    {
        // Two gateways in one process (as in these tests) count on the same threads.
        var first = new RequestCounts();
        var second = new RequestCounts();
        for (var i = 0; i < 5; i++)
        {
            first.Count("web", "web/plan/0", 200, Http11);
            second.Count("web", "web/plan/0", 200, Http11);
            second.Count("web", "web/plan/0", 200, Http11);
        }

        Assert.Equal(5, first.TotalsByApp()["web"].Requests);
        Assert.Equal(10, second.TotalsByApp()["web"].Requests);
    }

    [Fact]
    public void ConcurrentCounts_WithChangingKeys_AreAllCounted()
    {
        var counts = new RequestCounts();
        string[] apps = ["web", "shop", "api"];
        int[] statuses = [200, 200, 200, 404, 503];
        const int Threads = 8;
        const int PerThread = 20_000;

        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, thread =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                counts.Count(apps[(thread + i) % apps.Length], "shared/plan/0", statuses[i % statuses.Length], Http11);
            }
        });

        var totals = counts.TotalsByApp();
        Assert.Equal(Threads * PerThread, totals.Values.Sum(t => t.Requests));
        Assert.Equal(Threads * PerThread / statuses.Length, totals.Values.Sum(t => t.ClientErrors));
        Assert.Equal(Threads * PerThread / statuses.Length, totals.Values.Sum(t => t.ServerErrors));
    }

    private static string Copy(string text) => new(text.AsSpan());

    private static List<(string App, string Instance, string StatusClass, string Protocol, long Count)> Series(RequestCounts counts) =>
        [.. counts.Observe()
            .Select(m =>
            {
                var tags = m.Tags.ToArray().ToDictionary(t => t.Key, t => (string)t.Value!);
                return (tags[MetricLabels.App], tags[MetricLabels.Instance], tags[MetricLabels.StatusClass], tags[MetricLabels.Protocol], m.Value);
            })
            .OrderBy(s => s.Item1, StringComparer.Ordinal)
            .ThenBy(s => s.Item2, StringComparer.Ordinal)
            .ThenBy(s => s.Item3, StringComparer.Ordinal)
            .ThenBy(s => s.Item4, StringComparer.Ordinal)];
}
