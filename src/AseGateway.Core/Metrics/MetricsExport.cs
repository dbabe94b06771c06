using System.Diagnostics;
using System.Diagnostics.Metrics;
using AseGateway.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Yarp.ReverseProxy.Forwarder;

namespace AseGateway.Metrics;

/// <summary>
/// Wires metrics across the two hosts of one gateway: the data plane records (its own meter, Kestrel's and the proxy's
/// HttpClient meters, all created from its <see cref="IMeterFactory"/>), and the management listener
/// owns the one OpenTelemetry MeterProvider and serves it in Prometheus text format at <c>/metrics</c>.
/// </summary>
/// <remarks>
/// Meters are process-wide and OpenTelemetry subscribes by meter name, so a second gateway in the same process (as in
/// the tests) or the management host's own ASP.NET Core meters would be counted too. A view keeps only instruments
/// whose meter came from this gateway's data-plane factory (plus the process-wide runtime meter), so /metrics shows
/// this data plane and nothing else. YARP 2.3 publishes EventCounters, not a Meter: its per-destination state is
/// exported through <c>ase.instance.in_flight</c> and <c>ase.upstream.duration</c> instead.
/// </remarks>
internal static class MetricsExport
{
    public const string ScrapePath = "/metrics";

    private const string RuntimeMeter = "System.Runtime";

    /// <summary>
    /// Meters of the data plane exported at /metrics. ASP.NET Core's hosting meter (<c>http.server.*</c>) is not one:
    /// its two instruments are recorded on every request, and <c>ase.request.duration</c> and <c>ase.requests</c>
    /// already tell what they would.
    /// </summary>
    private static readonly string[] DataPlaneMeters =
    [
        GatewayMetrics.MeterName,
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Net.Http",
    ];

    /// <summary>
    /// Framework instruments recorded on every request. Dropped, so that their listeners are never enabled: then the
    /// framework skips their per-request work altogether.
    /// <list type="bullet">
    /// <item>The proxy HttpClient's: its metrics handler and connection pool add an async stage, tag lists and
    /// timestamps. <c>ase.upstream.duration</c> (by app, instance and outcome) and <c>ase.instance.in_flight</c> tell
    /// the same per instance; <c>http.client.open_connections</c> moves twice per request (a pooled connection goes
    /// active and idle again), and <c>kestrel_*</c>, <c>ase_connections_open</c> and
    /// <c>http.client.connection.duration</c> count connections instead.</item>
    /// <item>Kestrel's <c>kestrel.queued_requests</c>: every HTTP/2 stream adds and removes itself with its protocol
    /// and listener tags, as it waits for a pool thread (0.6% of the gateway's CPU over HTTP/2 + TLS). HTTP/1.1
    /// requests never queue; a busy pool shows in <c>dotnet_thread_pool_queue_length</c> and in
    /// <c>ase_request_duration_seconds</c>.</item>
    /// </list>
    /// </summary>
    private static readonly string[] PerRequestFrameworkInstruments =
    [
        "http.client.request.duration", "http.client.active_requests", "http.client.request.time_in_queue", "http.client.open_connections",
        "kestrel.queued_requests",
    ];

    /// <summary>
    /// HttpClient tags kept for the forwarder's client. Dropped to keep series bounded: the server address (it is the
    /// forwarded Host header, which a wildcard host name lets the client choose), the port (a process instance gets a
    /// new one on every restart) and the peer address. Per-instance upstream figures are in ase.upstream.duration.
    /// </summary>
    private static readonly string[] HttpClientTags =
    [
        "http.request.method", "http.response.status_code", "error.type", "network.protocol.version", "url.scheme", "http.connection.state",
    ];

    /// <summary>
    /// Series kept per runtime, Kestrel and HttpClient instrument: their tags are GC generations, protocols, listeners
    /// and error types, a few dozen combinations at most. OpenTelemetry allocates every stream's metric-point array
    /// and lookup table at its limit up front (2000 by default: 144 KB on the large object heap plus a 32 KB table per
    /// instrument, about 5 MB over the ~30 framework instruments); 200 keeps both small. A combination past the limit
    /// is still counted, in OpenTelemetry's overflow series.
    /// </summary>
    private const int FrameworkCardinalityLimit = 200;

    /// <summary>Data-plane registrations: the meter, the request table, and an HttpClient for YARP that reports to this host's meters.</summary>
    public static void AddGatewayMetrics(this IServiceCollection services)
    {
        services.AddSingleton<RequestCounts>();
        services.AddSingleton<GatewayMetrics>();
        services.TryAddSingleton<IForwarderHttpClientFactory, MeteredForwarderHttpClientFactory>();
    }

    /// <summary>Management-host registrations: one MeterProvider reading the data plane's meters, with a Prometheus exporter.</summary>
    public static void AddGatewayMetricsExport(this IServiceCollection services, IServiceProvider dataPlane)
    {
        var scope = dataPlane.GetRequiredService<IMeterFactory>();
        services.AddSingleton(dataPlane.GetRequiredService<GatewayMetrics>());
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("AseGateway", autoGenerateServiceInstanceId: false))
            .WithMetrics(metrics => metrics
                .AddMeter([.. DataPlaneMeters, RuntimeMeter])
                .AddView(instrument => Shape(instrument, scope))
                .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
    }

    /// <summary>/metrics: OpenTelemetry's exporter, with the gateway's per-request histograms written beside its output.</summary>
    public static void MapGatewayMetrics(this IEndpointRouteBuilder endpoints)
    {
        var metrics = endpoints.ServiceProvider.GetRequiredService<GatewayMetrics>();
        DurationHistogram[] histograms = [metrics.RequestDuration, metrics.UpstreamDuration];
        endpoints.MapPrometheusScrapingEndpoint(ScrapePath, meterProvider: null, branch => branch.UseMiddleware<HistogramExposition>((IReadOnlyList<DurationHistogram>)histograms), optionsName: null);
    }

    private static MetricStreamConfiguration? Shape(Instrument instrument, IMeterFactory scope)
    {
        var ours = ReferenceEquals(instrument.Meter.Scope, scope) || (instrument.Meter.Scope is null && instrument.Meter.Name == RuntimeMeter);
        if (!ours || Array.IndexOf(PerRequestFrameworkInstruments, instrument.Name) >= 0)
        {
            return MetricStreamConfiguration.Drop;
        }

        if (instrument.Meter.Name == GatewayMetrics.MeterName)
        {
            // Series by app, instance, rule or listener: as many as the configuration names, so the default limit.
            return null;
        }

        return instrument.Meter.Name == "System.Net.Http"
            ? new MetricStreamConfiguration { TagKeys = HttpClientTags, CardinalityLimit = FrameworkCardinalityLimit }
            : new MetricStreamConfiguration { CardinalityLimit = FrameworkCardinalityLimit };
    }

    /// <summary>
    /// YARP's HttpClient, with its System.Net.Http metrics going to the data plane's meter factory. With tracing off,
    /// the trace context reaches the worker through <see cref="TraceContextHandler"/> instead of HttpClient's
    /// diagnostics handler, which would start an unrecorded client activity per call.
    /// </summary>
    private sealed class MeteredForwarderHttpClientFactory : ForwarderHttpClientFactory
    {
        private readonly IMeterFactory _meters;
        private readonly bool _tracing;

        public MeteredForwarderHttpClientFactory(IMeterFactory meters, TracingAtStart tracing, ILogger<ForwarderHttpClientFactory> logger)
            : base(logger)
        {
            _meters = meters;
            _tracing = tracing.Enabled;
        }

        protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
        {
            base.ConfigureHandler(context, handler);
            handler.MeterFactory = _meters;
            if (!_tracing)
            {
                // No propagator: SocketsHttpHandler leaves its diagnostics handler out of the chain.
                handler.ActivityHeadersPropagator = null;
            }
        }

        protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler)
        {
            var wrapped = base.WrapHandler(context, handler);
            return _tracing ? wrapped : new TraceContextHandler(wrapped, DistributedContextPropagator.Current);
        }
    }
}
