using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// The fast path is the gateway's HTTP client for the requests it forwards, so it reports them where YARP's HttpClient
/// reports its own: <c>http.client.request.duration</c> on the data plane's <c>System.Net.Http</c> meter, from the start
/// of the exchange to the response head (or the failure), with HttpClient's tags. Whoever listens to that instrument
/// (dotnet-counters, an in-process OpenTelemetry reader) sees every forwarded request whichever road it took; the
/// gateway's own /metrics leaves it out, as ase.upstream.duration covers both roads, so it costs one flag check.
/// </summary>
internal sealed class FastPathClientMetrics
{
    // TagList holds its values as objects: a status code is boxed once, on its first answer, not on every request.
    private static readonly object?[] BoxedStatusCodes = new object?[600];

    private readonly Histogram<double> _duration;

    public FastPathClientMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(new MeterOptions("System.Net.Http"));
        _duration = meter.CreateHistogram<double>(
            "http.client.request.duration",
            unit: "s",
            description: "Duration of HTTP client requests.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] });
    }

    /// <summary>Whether anyone listens: when no one does, the exchange's start is not even read from the clock.</summary>
    public bool Enabled => _duration.Enabled;

    /// <param name="started">The exchange's start (<see cref="Stopwatch.GetTimestamp"/>), read when <see cref="Enabled"/>.</param>
    /// <param name="errorType">Null on success; otherwise what failed, as HttpClient names it.</param>
    public void Record(long started, string method, int statusCode, string? errorType)
    {
        if (!_duration.Enabled || started == 0)
        {
            return;
        }

        var tags = new TagList
        {
            { "http.request.method", KnownMethod(method) },
            { "network.protocol.version", "1.1" },
            { "url.scheme", "http" },
        };
        if (errorType is null)
        {
            var boxed = (uint)statusCode < (uint)BoxedStatusCodes.Length ? BoxedStatusCodes[statusCode] ??= statusCode : statusCode;
            tags.Add("http.response.status_code", boxed);
        }
        else
        {
            tags.Add("error.type", errorType);
        }

        _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
    }

    private static string KnownMethod(string method) =>
        HttpMethods.IsGet(method) ? HttpMethods.Get
        : HttpMethods.IsPost(method) ? HttpMethods.Post
        : HttpMethods.IsHead(method) ? HttpMethods.Head
        : HttpMethods.IsPut(method) ? HttpMethods.Put
        : HttpMethods.IsDelete(method) ? HttpMethods.Delete
        : HttpMethods.IsOptions(method) ? HttpMethods.Options
        : HttpMethods.IsPatch(method) ? HttpMethods.Patch
        : HttpMethods.IsTrace(method) ? HttpMethods.Trace
        : "_OTHER";
}
