using System.Text;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Metrics;

/// <summary>
/// The stage in front of OpenTelemetry's Prometheus exporter at /metrics: it lets the exporter write into a buffer,
/// then answers with that output and the gateway's own <see cref="DurationHistogram"/>s, in the format the exporter
/// chose (Prometheus text, or OpenMetrics, whose closing <c># EOF</c> stays last).
/// </summary>
internal sealed class HistogramExposition
{
    /// <summary>The label OpenTelemetry gives every series of the gateway's meter; the histograms carry it too.</summary>
    private const string ScopeLabel = "otel_scope_name=\"" + GatewayMetrics.MeterName + "\"";

    private static readonly byte[] EndOfOpenMetrics = "# EOF\n"u8.ToArray();

    private readonly RequestDelegate _next;
    private readonly IReadOnlyList<DurationHistogram> _histograms;

    public HistogramExposition(RequestDelegate next, IReadOnlyList<DurationHistogram> histograms)
    {
        _next = next;
        _histograms = histograms;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var response = context.Response;
        var body = response.Body;
        using var exported = new MemoryStream();
        response.Body = exported;
        try
        {
            await _next(context);
        }
        finally
        {
            response.Body = body;
        }

        var output = exported.GetBuffer().AsMemory(0, (int)exported.Length);
        if (response.StatusCode != StatusCodes.Status200OK)
        {
            await body.WriteAsync(output, context.RequestAborted);
            return;
        }

        var openMetrics = response.ContentType?.StartsWith("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) == true;
        var end = openMetrics && output.Span.EndsWith(EndOfOpenMetrics) ? output.Length - EndOfOpenMetrics.Length : output.Length;
        var histograms = Encoding.UTF8.GetBytes(Write(openMetrics));
        response.ContentLength = output.Length + histograms.Length;
        await body.WriteAsync(output[..end], context.RequestAborted);
        await body.WriteAsync(histograms, context.RequestAborted);
        await body.WriteAsync(output[end..], context.RequestAborted);
    }

    private string Write(bool openMetrics)
    {
        var text = new StringBuilder();
        foreach (var histogram in _histograms)
        {
            histogram.WriteTo(text, ScopeLabel, openMetrics);
        }

        return text.ToString();
    }
}
