using AseGateway.Hosting;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Hosting;

public sealed class InlineIoSchedulingTests
{
    [Theory]
    [InlineData("1", true)]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("0", false)]
    [InlineData("true", false)]
    [InlineData(" 1", false)]
    public void IsRequested_MatchesTheRuntimesOwnTest(string? value, bool expected)
    {
        // The runtime inlines socket completions for "1" only: Kestrel must not inline on a value the runtime ignores.
        Assert.Equal(expected, InlineIoScheduling.IsRequested(value));
    }

    [Fact]
    public async Task Run_InlineCompletionsRequested_ForwardsConcurrentRequestsAndLargeBodies()
    {
        // Only a fresh process shows it: the runtime reads the variable once, when its socket engine starts.
        await using var backend = await TestBackend.StartAsync("b0");
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(TestConfigs.Static([backend]));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var gateway = await GatewayProcess.StartAsync(
            folder.FilePath, new Dictionary<string, string> { [InlineIoScheduling.EnvironmentVariable] = "1" }, timeout.Token);

        // Eight keep-alive connections at once, each with small responses and one that streams 8 MB through the fast
        // path's flushes: a blocking wait on an event thread would stall or deadlock these.
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 8 });
        var tasks = new Task[8];
        for (var connection = 0; connection < tasks.Length; connection++)
        {
            tasks[connection] = Task.Run(async () =>
            {
                for (var i = 0; i < 25; i++)
                {
                    Assert.Equal("b0"u8.ToArray(), await GetAsync(client, gateway.HttpListener, "/", timeout.Token));
                }

                var large = await GetAsync(client, gateway.HttpListener, "/large", timeout.Token);
                Assert.Equal(TestBackend.LargeResponseBytes, large.Length);
            });
        }

        await Task.WhenAll(tasks);
    }

    private static async Task<byte[]> GetAsync(HttpClient client, Uri listener, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(listener, path));
        request.Headers.Host = TestConfigs.AppHost;
        using var response = await client.SendAsync(request, cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{path} answered {(int)response.StatusCode}");
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }
}
