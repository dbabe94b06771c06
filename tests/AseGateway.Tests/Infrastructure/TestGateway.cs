using System.Net;
using System.Text;
using AseGateway.Configuration;
using AseGateway.Control;
using AseGateway.Hosting;
using AseGateway.Instances;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace AseGateway.Tests.Infrastructure;

/// <summary>Starts a real gateway on 127.0.0.1 with free ports from a JSON configuration, and talks to it.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private readonly HttpMessageInvoker _client;

    private TestGateway(GatewayServer server)
    {
        Server = server;
        _client = new HttpMessageInvoker(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false });
    }

    public GatewayServer Server { get; }

    public Uri Url => Server.ListenerUrls["http"];

    internal InstanceManager Instances => Server.Instances;

    public static async Task<TestGateway> StartAsync(string json, ITestOutputHelper output, string? baseDirectory = null, TimeSpan? readyTimeout = null, IReadOnlyList<AseGateway.Waf.IWafHook>? wafHooks = null, LogCapture? capture = null, bool? eventLoop = null, bool? http1Front = null)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var source = new InMemoryConfigSource(bytes, "test config", baseDirectory ?? AppContext.BaseDirectory);
        var config = source.Load(bytes);
        Assert.True(config.IsValid, string.Join(Environment.NewLine, config.Errors));
        return await StartAsync(source, output, readyTimeout, wafHooks: wafHooks, capture: capture, eventLoop: eventLoop, http1Front: http1Front);
    }

    public static async Task<TestGateway> StartAsync(ConfigSource source, ITestOutputHelper output, TimeSpan? readyTimeout = null, TimeSpan? pollInterval = null, IReadOnlyList<AseGateway.Waf.IWafHook>? wafHooks = null, LogCapture? capture = null, IReadOnlyList<AseGateway.Waf.IManagedRuleSetProvider>? managedRuleSetProviders = null, bool? eventLoop = null, bool? http1Front = null)
    {
        var server = await GatewayServer.StartAsync(source, new GatewayServerOptions
        {
            ConfigureLogging = logging =>
            {
                logging.AddProvider(new XunitLoggerProvider(output));
                capture?.AddTo(logging);
            },
            StartupReadyTimeout = readyTimeout ?? TimeSpan.FromSeconds(30),
            ConfigPollInterval = pollInterval,
            WafHooks = wafHooks ?? [],
            ManagedRuleSetProviders = managedRuleSetProviders ?? [],
            EventLoop = eventLoop,
            Http1Front = http1Front,
        });
        return new TestGateway(server);
    }

    public async Task<HttpResponseMessage> GetAsync(string host, string path = "/", Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Url, path));
        request.Headers.Host = host;
        configure?.Invoke(request);
        return await _client.SendAsync(request, CancellationToken.None);
    }

    /// <summary>A GET over HTTP/2 (prior knowledge) to the listener <see cref="TestConfigs.WithH2c"/> adds; the host goes in :authority.</summary>
    public async Task<HttpResponseMessage> GetHttp2Async(string host, string path = "/", Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Server.ListenerUrls["h2c"], path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Host = host;
        configure?.Invoke(request);
        var response = await _client.SendAsync(request, CancellationToken.None);
        Assert.Equal(HttpVersion.Version20, response.Version);
        return response;
    }

    public async Task<string> GetBodyAsync(string host, string path = "/", Action<HttpRequestMessage>? configure = null)
    {
        using var response = await GetAsync(host, path, configure);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>A client for the management API, authenticated with <see cref="TestConfigs.ApiKey"/> (see <see cref="TestConfigs.WithApiKey"/>).</summary>
    public HttpClient ManagementClient()
    {
        var client = new HttpClient { BaseAddress = Server.ManagementUrl };
        client.DefaultRequestHeaders.Add("X-API-Key", TestConfigs.ApiKey);
        return client;
    }

    /// <summary>Keys of the app's instances that take traffic now (e.g. <c>web/web-plan/0</c>).</summary>
    public IReadOnlyList<string> Available(string app = "web") => Instances.AvailableInstances(app);

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds, re-checking after every health ping.</summary>
    internal async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var changed = new SemaphoreSlim(0);
        void OnProbed(InstanceState instance, HealthProbeResult result) => changed.Release();
        Instances.Probed += OnProbed;
        try
        {
            using var deadline = new CancellationTokenSource(timeout);
            while (!condition())
            {
                try
                {
                    await changed.WaitAsync(TimeSpan.FromMilliseconds(250), deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting until {what}.");
                }
            }
        }
        finally
        {
            Instances.Probed -= OnProbed;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await Server.DisposeAsync();
    }
}
