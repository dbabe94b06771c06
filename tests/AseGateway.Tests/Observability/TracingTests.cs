using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace AseGateway.Tests.Observability;

/// <summary>W3C trace context through the gateway to the worker, and OTLP export to a real loopback receiver.</summary>
public sealed partial class TracingTests(ITestOutputHelper output)
{
    private const string ClientTraceId = "0af7651916cd43dd8448eb211c80319c";
    private const string ClientParentId = "b7ad6b7169203331";
    private const string ClientTraceparent = $"00-{ClientTraceId}-{ClientParentId}-01";

    /// <summary>With tracing off no activity carries the trace context: both forwarding roads write it themselves.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Traceparent_FromTheClient_WorkerGetsTheSameTraceAndTheGatewayAsParent(bool fastPath)
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(Forwarding(TestConfigs.Static(backends.List), fastPath), output);

        Assert.Equal("b0", await GetAsync(gateway, "/", ClientTraceparent));

        var received = Traceparent(backends.List[0]);
        Assert.Equal(ClientTraceId, received.TraceId);
        Assert.NotEqual(ClientParentId, received.ParentId);
        Assert.Equal("01", received.Flags);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Traceparent_NoneFromTheClient_TheGatewayStartsATrace(bool fastPath)
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(Forwarding(TestConfigs.Static(backends.List), fastPath), output);

        Assert.Equal("b0", await GetAsync(gateway, "/first", traceparent: null));
        Assert.Equal("b0", await GetAsync(gateway, "/second", traceparent: null));

        var traces = backends.List[0].ReceivedHeaders.Select(h => ParseTraceparent(h["traceparent"])).ToList();
        Assert.Equal(2, traces.Count);
        Assert.NotEqual(traces[0].TraceId, traces[1].TraceId);
        Assert.All(traces, t => Assert.NotEqual(new string('0', 32), t.TraceId));
    }

    [Fact]
    public async Task Otlp_Enabled_ExportsTheRequestsSpans_WithTheServiceName_ToALoopbackReceiver()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var backends = await Backends.StartAsync(1);
        var json = AccessLogTests.WithObservability(
            TestConfigs.Static(backends.List),
            $$"""{ "tracing": { "enabled": true, "otlpEndpoint": "{{receiver.Url}}", "serviceName": "ase-trace-test" } }""");
        await using (var gateway = await TestGateway.StartAsync(json, output))
        {
            Assert.Equal("b0", await GetAsync(gateway, "/traced", ClientTraceparent));
        }

        // Stopping the gateway flushes the batch exporter: the export has arrived by now.
        var received = Traceparent(backends.List[0]);
        Assert.Equal(ClientTraceId, received.TraceId);
        Assert.NotEmpty(receiver.Exports);
        Assert.All(receiver.Exports, e => Assert.Equal("application/x-protobuf", e.ContentType));
        var all = receiver.Exports.SelectMany(e => e.Body).ToArray();
        Assert.True(all.AsSpan().IndexOf("ase-trace-test"u8) >= 0, "the export names the service");
        Assert.True(all.AsSpan().IndexOf(Convert.FromHexString(ClientTraceId)) >= 0, "the export holds the client's trace id");
        Assert.True(all.AsSpan().IndexOf("/traced"u8) >= 0, "the server span names the path");
    }

    /// <summary>
    /// Sends exactly the client's trace context: the handler's own propagation is off, since a tracing gateway in this
    /// process would otherwise make the test's HttpClient start its own trace and replace the header.
    /// </summary>
    private static string Forwarding(string json, bool fastPath) =>
        json.Replace("\"trustedForwarders\": []", $"\"trustedForwarders\": [], \"forwarding\": {{ \"fastPath\": {(fastPath ? "true" : "false")} }}", StringComparison.Ordinal);

    private static async Task<string> GetAsync(TestGateway gateway, string path, string? traceparent)
    {
        using var client = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Url, path));
        request.Headers.Host = TestConfigs.AppHost;
        if (traceparent is not null)
        {
            request.Headers.TryAddWithoutValidation("traceparent", traceparent);
        }

        using var response = await client.SendAsync(request, CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static (string TraceId, string ParentId, string Flags) Traceparent(TestBackend backend)
    {
        Assert.True(backend.ReceivedHeaders.TryPeek(out var headers));
        Assert.True(headers.TryGetValue("traceparent", out var value), "the worker received no traceparent");
        return ParseTraceparent(value);
    }

    private static (string TraceId, string ParentId, string Flags) ParseTraceparent(string value)
    {
        var match = TraceparentFormat().Match(value);
        Assert.True(match.Success, $"'{value}' is not a W3C traceparent");
        return (match.Groups[1].Value, match.Groups[2].Value, match.Groups[3].Value);
    }

    [GeneratedRegex("^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")]
    private static partial Regex TraceparentFormat();

    /// <summary>A minimal OTLP/HTTP collector: accepts POST /v1/traces (protobuf) and keeps each body.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private OtlpReceiver(WebApplication app) => _app = app;

        public ConcurrentQueue<(string? ContentType, byte[] Body)> Exports { get; } = new();

        public Uri Url { get; private set; } = null!;

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/traces", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                receiver.Exports.Enqueue((context.Request.ContentType, body.ToArray()));

                // An empty ExportTraceServiceResponse: full success.
                context.Response.ContentType = "application/x-protobuf";
                return Results.Bytes([], "application/x-protobuf");
            });
            await app.StartAsync();
            receiver.Url = new Uri(app.Urls.First().TrimEnd('/') + "/");
            return receiver;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
