using System.Net;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Hosting;

/// <summary>
/// Which listeners and worker connections run on the gateway's event loops: by default the clear-text HTTP/1.1
/// listeners and the fast path's connections to workers; h2c and TLS listeners stay on Kestrel's socket transport.
/// </summary>
public sealed class EventLoopTransportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Default_Http11ListenersAndWorkerConnectionsOnTheLoops_Http2OnSockets()
    {
        await using var backends = await Backends.StartAsync(1);
        using var log = new LogCapture();
        await using var gateway = await StartAsync(backends, eventLoop: null, log);

        var loops = gateway.Server.EventLoopTransportFactory;
        Assert.NotNull(loops);
        Assert.Equal(1, loops.BoundCount);
        Assert.Contains(log.Lines, line => line.Contains($"1 HTTP/1.1 listen socket(s) and the connections to workers run on {Environment.ProcessorCount} event loop(s)", StringComparison.Ordinal));
        await AssertAllListenersServeAsync(gateway);
        Assert.All(gateway.Server.UpstreamPools.All(), pool => Assert.NotNull(pool.Loops));
        Assert.NotEmpty(gateway.Server.UpstreamPools.All());
    }

    [Fact]
    public async Task Off_KestrelSocketsServeEveryListener()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends, eventLoop: false);

        Assert.Null(gateway.Server.EventLoopTransportFactory);
        await AssertAllListenersServeAsync(gateway);
        Assert.All(gateway.Server.UpstreamPools.All(), pool => Assert.Null(pool.Loops));
    }

    [Fact]
    public async Task LocalhostListener_BothLoopbacksOnTheLoops()
    {
        // "localhost" is bound by Kestrel as two fresh end points (127.0.0.1 and ::1) of the configured port: both must
        // be recognised as the clear-text listener's.
        await using var backends = await Backends.StartAsync(1);
        var port = FreePort();
        var json = TestConfigs.Static(backends.List).Replace(
            "\"listeners\": [ { \"name\": \"http\", \"address\": \"127.0.0.1\", \"port\": 0,",
            $"\"listeners\": [ {{ \"name\": \"http\", \"address\": \"localhost\", \"port\": {port},");
        await using var gateway = await TestGateway.StartAsync(json, output);

        Assert.Equal(System.Net.Sockets.Socket.OSSupportsIPv6 ? 2 : 1, gateway.Server.EventLoopTransportFactory!.BoundCount);
        using var client = new HttpClient();
        foreach (var address in System.Net.Sockets.Socket.OSSupportsIPv6 ? new[] { "127.0.0.1", "[::1]" } : ["127.0.0.1"])
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{address}:{port}/");
            request.Headers.Host = TestConfigs.AppHost;
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task<TestGateway> StartAsync(Backends backends, bool? eventLoop, LogCapture? log = null)
    {
        var json = HttpsListenerTests.ForContoso(HttpsListenerTests.WithHttps(TestConfigs.Static(backends.List)))
            .Replace(
                "{ \"name\": \"http\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http\" },",
                "{ \"name\": \"http\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http\" }, { \"name\": \"h2c\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http2\" },");
        return await TestGateway.StartAsync(json, output, capture: log, eventLoop: eventLoop);
    }

    private static async Task AssertAllListenersServeAsync(TestGateway gateway)
    {
        const string Host = "web.contoso.com";
        using (var h1 = await gateway.GetAsync(Host))
        {
            Assert.Equal(HttpStatusCode.OK, h1.StatusCode);
        }

        using (var h2c = await gateway.GetHttp2Async(Host))
        {
            Assert.Equal(HttpStatusCode.OK, h2c.StatusCode);
            Assert.Equal(HttpVersion.Version20, h2c.Version);
        }

        using var client = DevCa.TrustingClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Server.ListenerUrls["https"]) { Version = HttpVersion.Version20 };
        request.Headers.Host = Host;
        using var https = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, https.StatusCode);
        Assert.Equal(HttpVersion.Version20, https.Version);
    }
}
