using System.Diagnostics.Metrics;
using AseGateway.Metrics;
using BenchmarkDotNet.Attributes;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace AseGateway.Benchmarks;

/// <summary>
/// What <see cref="RequestMetricsMiddleware"/> records per proxied request — the request count, the request duration
/// and the upstream duration — with OpenTelemetry listening as it does behind /metrics. Expect 0 bytes allocated.
/// </summary>
[MemoryDiagnoser]
public class MetricsRecordingBenchmarks : IDisposable
{
    private readonly RequestCounts _requests = new();
    private Meter _meter = null!;
    private MeterProvider _provider = null!;
    private Histogram<double> _requestDuration = null!;
    private Histogram<double> _upstreamDuration = null!;

    [GlobalSetup]
    public void Setup()
    {
        _meter = new Meter("AseGateway.Benchmarks");
        _requestDuration = _meter.CreateHistogram<double>("ase.request.duration", "s");
        _upstreamDuration = _meter.CreateHistogram<double>("ase.upstream.duration", "s");
        _provider = Sdk.CreateMeterProviderBuilder().AddMeter(_meter.Name).AddPrometheusExporter().Build();
    }

    /// <summary>The request table alone: a thread counting the key it counted before, as under load.</summary>
    [Benchmark]
    public void CountRequest() => _requests.Count("hello", "hello/dev/0", 200, "HTTP/1.1");

    [Benchmark]
    public void RecordProxiedRequest()
    {
        _requests.Count("hello", "hello/dev/0", 200, "HTTP/1.1");
        _requestDuration.Record(0.0042, new KeyValuePair<string, object?>(MetricLabels.App, "hello"));
        _upstreamDuration.Record(
            0.0031,
            new KeyValuePair<string, object?>(MetricLabels.App, "hello"),
            new KeyValuePair<string, object?>(MetricLabels.Instance, "hello/dev/0"),
            new KeyValuePair<string, object?>(MetricLabels.Outcome, ForwarderOutcomes.Name(Yarp.ReverseProxy.Forwarder.ForwarderError.None)));
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _provider.Dispose();
        _meter.Dispose();
        GC.SuppressFinalize(this);
    }
}
