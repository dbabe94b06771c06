using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Reliability;

/// <summary>Connection exhaustion (issue 8, part 4): the per-client cap keeps one address's flood from locking out another.</summary>
public sealed class ConnectionExhaustionTests(ITestOutputHelper output)
{
    private const int Cap = 20;
    private const int Flood = 100;

    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Other = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task PerClientCap_IdleFloodFromOneAddress_DoesNotLockOutAnother()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = TestConfigs.Static(backends.List).Replace("\"trustedForwarders\": []", $"\"trustedForwarders\": [], \"limits\": {{ \"maxConnectionsPerClient\": {Cap} }}");
        await using var gateway = await TestGateway.StartAsync(json, output);

        var flood = new List<Socket>();
        try
        {
            // Idle connections that never send a byte, as a connection-exhaustion attacker opens them.
            // A reset while the connect completes is a refusal too.
            var refusedAtConnect = 0;
            for (var i = 0; i < Flood; i++)
            {
                try
                {
                    flood.Add(await LoopbackClient.ConnectAsync(Attacker, gateway.Url));
                }
                catch (SocketException)
                {
                    refusedAtConnect++;
                }
            }

            // The other client is served at once, while the flood is held.
            var watch = Stopwatch.StartNew();
            using (var probe = await LoopbackClient.GetAsync(Other, gateway.Url, TestConfigs.AppHost))
            {
                Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
            }

            var probeLatency = watch.Elapsed;
            var held = await CountHeldAsync(flood, expected: Cap);
            output.WriteLine($"{refusedAtConnect} were reset while connecting");
            var nextRefused = await LoopbackClient.IsRefusedAsync(Attacker, gateway.Url);
            using var other = await LoopbackClient.GetAsync(Other, gateway.Url, TestConfigs.AppHost);

            var passed = held == Cap && nextRefused && other.StatusCode == HttpStatusCode.OK;
            ReliabilityReport.Row(
                output,
                "connection exhaustion",
                $"{Flood} idle connections from {Attacker}: {held} held (maxConnectionsPerClient {Cap}), {Flood - held} closed without a byte; {Other} served 200 in {probeLatency.TotalMilliseconds:0} ms",
                passed);
            Assert.Equal(Cap, held);
            Assert.True(nextRefused, $"a further connection from {Attacker} was let in");
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }
        finally
        {
            foreach (var socket in flood)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Connections the gateway kept open: the refused ones are closed without a byte, soon after accept.</summary>
    private static async Task<int> CountHeldAsync(List<Socket> sockets, int expected)
    {
        var deadline = Stopwatch.StartNew();
        int held;
        do
        {
            held = sockets.Count(s => !(s.Poll(0, SelectMode.SelectRead) && s.Available == 0));
            if (held == expected)
            {
                break;
            }

            await Task.Delay(50);
        }
        while (deadline.Elapsed < TimeSpan.FromSeconds(5));

        return held;
    }
}
