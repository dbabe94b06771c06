using System.Diagnostics;
using AseGateway.Configuration;
using AseGateway.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AseGateway.Observability;

/// <summary>
/// OpenTelemetry tracing of the data plane, off unless <c>observability.tracing.enabled</c>: a server span per
/// request (ASP.NET Core), YARP's forwarding span, and a client span per call to a worker (HttpClient), exported
/// over OTLP. The worker receives a W3C traceparent whichever way, so a worker's own traces join the caller's: with
/// tracing on, HttpClient's client span is its parent; with tracing off, ASP.NET Core starts no activity and
/// <see cref="NextHopTraceParent"/> writes the gateway's hop (<see cref="TraceContextHandler"/> passes on an activity
/// when a listener in the process made one).
/// </summary>
internal static partial class GatewayTracing
{
    public const string DefaultOtlpEndpoint = "http://localhost:4318";

    /// <summary>The ActivitySource YARP reports forwarding on.</summary>
    private const string YarpActivitySource = "Yarp.ReverseProxy";

    /// <summary>Registers tracing when the configuration turns it on (read at start: a change needs a restart).</summary>
    public static void Add(IServiceCollection services, GatewaySnapshot snapshot)
    {
        var enabled = snapshot.Config.Observability?.Tracing is { Enabled: true };
        services.AddSingleton(new TracingAtStart(enabled));
        if (snapshot.Config.Observability?.Tracing is not { Enabled: true } tracing)
        {
            return;
        }

        var protocol = tracing.OtlpProtocol ?? Configuration.OtlpProtocol.HttpProtobuf;
        var endpoint = ExportEndpoint(tracing);

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(
                serviceName: tracing.ServiceName ?? snapshot.EnvironmentName,
                serviceVersion: typeof(GatewayTracing).Assembly.GetName().Version?.ToString(3),
                serviceInstanceId: Environment.MachineName))
            .WithTracing(builder => builder
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(tracing.SamplingRatio ?? 1.0)))
                .AddAspNetCoreInstrumentation(options =>
                {
                    // The listener is process-wide: keep the management host's requests out (only the data plane
                    // registers the access-log writer).
                    options.Filter = context => context.RequestServices.GetService<AccessLogWriter>() is not null;
                })
                .AddHttpClientInstrumentation(options =>
                {
                    // Calls made while serving a request (to the worker, to WAF hooks); not the health pings.
                    options.FilterHttpRequestMessage = _ => Activity.Current?.Parent is not null;
                })
                .AddSource(YarpActivitySource)
                .AddOtlpExporter(exporter =>
                {
                    exporter.Endpoint = endpoint;
                    exporter.Protocol = protocol == Configuration.OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                }));
    }

    public static void LogIfEnabled(ILogger logger, GatewaySnapshot snapshot)
    {
        if (snapshot.Config.Observability?.Tracing is { Enabled: true } tracing)
        {
            var endpoint = ExportEndpoint(tracing);
            LogEnabled(logger, endpoint, tracing.OtlpProtocol ?? Configuration.OtlpProtocol.HttpProtobuf, tracing.SamplingRatio ?? 1.0);
        }
    }

    /// <summary>Set in code, the exporter takes the URL as the full signal URL: a collector's base URL gets the OTLP/HTTP path.</summary>
    private static Uri ExportEndpoint(TracingConfig tracing)
    {
        var endpoint = new Uri(tracing.OtlpEndpoint ?? DefaultOtlpEndpoint);
        return tracing.OtlpProtocol != Configuration.OtlpProtocol.Grpc && endpoint.AbsolutePath == "/" ? new Uri(endpoint, "v1/traces") : endpoint;
    }

    [LoggerMessage(EventId = Logging.EventIds.TracingEnabled, Level = LogLevel.Information, Message = "Tracing: spans are exported to {Endpoint} over OTLP ({Protocol}), sampling ratio {Ratio}.")]
    private static partial void LogEnabled(ILogger logger, Uri endpoint, Configuration.OtlpProtocol protocol, double ratio);
}

/// <summary>Whether tracing was on when the gateway started (it is read once: a change needs a restart).</summary>
internal sealed record TracingAtStart(bool Enabled);
