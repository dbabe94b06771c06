using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using AseGateway.Access;
using AseGateway.Affinity;
using AseGateway.Configuration;
using AseGateway.Connections;
using AseGateway.Control;
using AseGateway.Dashboard;
using AseGateway.Forwarding;
using AseGateway.Health;
using AseGateway.Instances;
using AseGateway.Management;
using AseGateway.Metrics;
using AseGateway.Model;
using AseGateway.Networking;
using AseGateway.Networking.EventLoop;
using AseGateway.Nsg;
using AseGateway.Observability;
using AseGateway.Routing;
using AseGateway.Tls;
using AseGateway.Waf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace AseGateway.Hosting;

/// <summary>
/// The running front end: the data plane (Kestrel listeners, YARP) and the management listener as two separate
/// hosts in one process, so that no request on a public port can ever reach a management endpoint.
/// </summary>
public sealed partial class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _dataPlane;
    private readonly WebApplication _management;
    private readonly InstanceManager _instances;
    private readonly List<(ListenerModel Listener, ListenOptions Options)> _listenOptions;
    private readonly ListenOptionsBox _managementListen;
    private readonly ILogger _logger;
    private int _disposed;
    private ConfigFileWatcher? _watcher;
    private System.Runtime.InteropServices.PosixSignalRegistration? _sighup;

    private GatewayServer(WebApplication dataPlane, WebApplication management, List<(ListenerModel, ListenOptions)> listenOptions, ListenOptionsBox managementListen)
    {
        _dataPlane = dataPlane;
        _management = management;
        _listenOptions = listenOptions;
        _managementListen = managementListen;
        _instances = dataPlane.Services.GetRequiredService<InstanceManager>();
        _logger = dataPlane.Services.GetRequiredService<ILogger<GatewayServer>>();
        Snapshots = dataPlane.Services.GetRequiredService<SnapshotHolder>();
    }

    /// <summary>Where each listener ended up, by listener name (ports resolved when the file says 0).</summary>
    public IReadOnlyDictionary<string, Uri> ListenerUrls { get; private set; } = new Dictionary<string, Uri>();

    public Uri ManagementUrl { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The WAF audit log, when the configuration has one (tests and harnesses follow its findings).</summary>
    internal Waf.WafAuditLog? WafAuditLog => _dataPlane.Services.GetService<Waf.WafAuditLog>();

    internal SnapshotHolder Snapshots { get; }

    internal InstanceManager Instances => _instances;

    internal RetryCounters Retries => _dataPlane.Services.GetRequiredService<RetryCounters>();
    internal AccessLogWriter AccessLog => _dataPlane.Services.GetRequiredService<AccessLogWriter>();

    /// <summary>The event-loop transport when the data plane runs on it (tests check which listeners it bound).</summary>
    internal EventLoopTransportFactory? EventLoopTransportFactory => _dataPlane.Services.GetService<EventLoopTransportFactory>();

    /// <summary>Whether the data plane can resolve a service (tests check what was left out of it).</summary>
    internal bool DataPlaneHas<T>() => _dataPlane.Services.GetService<T>() is not null;

    internal IEnumerable<T> DataPlaneServices<T>() => _dataPlane.Services.GetServices<T>();

    /// <summary>The HTTP/1.1 front's counts when it serves (tests check which requests it took).</summary>
    internal Http1Front.Http1FrontApplication? Http1FrontCounts => _dataPlane.Services.GetService<Http1Front.Http1FrontApplication>();

    internal Forwarding.FastPath.UpstreamPools UpstreamPools => _dataPlane.Services.GetRequiredService<Forwarding.FastPath.UpstreamPools>();

    internal SocketTransportOptions SocketTransport => _dataPlane.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;

    /// <summary>Stops when the host is asked to (Ctrl+C, SIGTERM).</summary>
    public CancellationToken ShutdownRequested => _dataPlane.Lifetime.ApplicationStopping;

    /// <summary>The control plane: reloads, replacements, edits of the configuration.</summary>
    public ConfigController Config => _dataPlane.Services.GetRequiredService<ConfigController>();

    /// <summary>Compiles the configuration, starts its instances, waits (bounded) for all of them to be ready, then opens the listeners.</summary>
    /// <exception cref="GatewayConfigurationException">The configuration is invalid or its certificates cannot be loaded.</exception>
    public static async Task<GatewayServer> StartAsync(ConfigSource source, GatewayServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new GatewayServerOptions();

        // A request or header line ending in a bare LF is refused (400), not read as a line end: an intermediary or
        // worker that disagrees about line ends could otherwise see a different message than the gateway did.
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);
        var config = await source.LoadAsync(cancellationToken);
        if (!config.IsValid)
        {
            throw new GatewayConfigurationException(config.Errors);
        }

        var providers = ManagedRuleSetProviders(options);
        var snapshot = SnapshotCompiler.Compile(config, generation: 1, options.TimeProvider.GetUtcNow(), providers);
        var snapshots = new SnapshotHolder();
        snapshots.Swap(snapshot);

        var listenOptions = new List<(ListenerModel, ListenOptions)>();
        var dataPlane = BuildDataPlane(source, snapshot, snapshots, options, listenOptions);

        // Created now, not on first use: it subscribes to health pings and reloads from the start.
        dataPlane.Services.GetRequiredService<GatewayMetrics>();
        var managementListen = new ListenOptionsBox();
        var management = BuildManagement(snapshot, dataPlane, options, managementListen);
        var server = new GatewayServer(dataPlane, management, listenOptions, managementListen);
        try
        {
            await server._instances.ReconcileAsync(snapshot);
            server.StartWatching(source, options);
            await server.WaitForAppsReadyAsync(snapshot, options.StartupReadyTimeout, cancellationToken);
            await dataPlane.StartAsync(cancellationToken);
            await management.StartAsync(cancellationToken);
            server.ResolveUrls();
            foreach (var (name, url) in server.ListenerUrls)
            {
                LogListening(server._logger, name, url);
            }

            if (server.EventLoopTransportFactory is { } loops)
            {
                LogEventLoops(server._logger, loops.BoundCount, loops.LoopCount);
            }

            LogManagement(server._logger, server.ManagementUrl);
            LogStarted(server._logger, snapshot.EnvironmentName, snapshot.Apps.Count, snapshot.Instances.Count);
            GatewayTracing.LogIfEnabled(server._logger, snapshot);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        LogStopping(_logger);
        _watcher?.Dispose();
        _sighup?.Dispose();

        // Stop taking requests first (Kestrel lets in-flight ones finish), then stop the instances serving them.
        await StopQuietlyAsync(_dataPlane);
        await _instances.DisposeAsync();
        await AccessLog.DisposeAsync();
        if (_dataPlane.Services.GetService<WafAuditLog>() is { } audit)
        {
            await audit.DisposeAsync();
        }

        await StopQuietlyAsync(_management);
        await _dataPlane.DisposeAsync();
        await _management.DisposeAsync();
    }

    private void StartWatching(ConfigSource source, GatewayServerOptions options)
    {
        var controller = Config;
        controller.Changed += _ => AccessLog.Apply(Snapshots.Current.AccessLog);
        AccessLog.Apply(Snapshots.Current.AccessLog);
        if (source is FileConfigSource file && options.WatchConfigFile)
        {
            var reload = controller.Current.Config.Reload;
            var poll = options.ConfigPollInterval ?? TimeSpan.FromSeconds(reload?.PollIntervalSeconds ?? ConfigDefaults.ReloadPollIntervalSeconds);
            _watcher = new ConfigFileWatcher(
                file,
                trigger => controller.ReloadAsync(trigger),
                options.ConfigDebounce ?? TimeSpan.FromMilliseconds(reload?.DebounceMilliseconds ?? ConfigDefaults.ReloadDebounceMilliseconds),
                poll == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : poll,
                options.TimeProvider,
                _dataPlane.Services.GetRequiredService<ILogger<ConfigFileWatcher>>());
        }

        if (options.ReloadOnSighup && !OperatingSystem.IsWindows())
        {
            // nginx and HAProxy reload on SIGHUP; so does this gateway (the file is re-read, same road as an edit).
            _sighup = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = controller.ReloadAsync("SIGHUP");
            });
        }
    }

    private static async Task StopQuietlyAsync(WebApplication app)
    {
        try
        {
            await app.StopAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Never started (start-up failed before it): nothing to stop.
        }
    }

    private static WebApplication BuildDataPlane(ConfigSource source, GatewaySnapshot snapshot, SnapshotHolder snapshots, GatewayServerOptions options, List<(ListenerModel, ListenOptions)> listenOptions)
    {
        var builder = CreateBuilder(options);
        var eventLoopEndpoints = EventLoopTransport.IsEnabled(options.EventLoop) ? new EventLoopEndpoints() : null;
        var http1Front = Http1Front.Http1FrontRegistration.IsEnabled(options.Http1Front);
        if (snapshot.Config.Observability?.Tracing is not { Enabled: true })
        {
            // Enabled, this logger makes ASP.NET Core start an activity and a log scope for every request; with
            // tracing off only the trace context needed them, and NextHopTraceParent writes it without.
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            ApplyLimits(kestrel, snapshot.Limits);
            foreach (var listener in snapshot.Listeners)
            {
                Listen(kestrel, listener.Address, listener.Port, listenOptions.Add, listener, options =>
                {
                    // Cheapest refusals first, before TLS: the NSG, then the per-client connection cap.
                    options.Use(next => new NsgConnectionMiddleware(
                        next,
                        options.ApplicationServices.GetRequiredService<SnapshotHolder>(),
                        options.ApplicationServices.GetRequiredService<NsgCounters>(),
                        options.ApplicationServices.GetRequiredService<ILogger<NsgConnectionMiddleware>>()).OnConnectionAsync);
                    options.Use(next => new ClientConnectionLimitMiddleware(
                        next,
                        options.ApplicationServices.GetRequiredService<SnapshotHolder>(),
                        options.ApplicationServices.GetRequiredService<ClientConnectionTable>().Open,
                        options.ApplicationServices.GetRequiredService<ILogger<ClientConnectionLimitMiddleware>>()).OnConnectionAsync);
                    options.Use(next => new SendLimitsMiddleware(
                        next,
                        options.ApplicationServices.GetRequiredService<SnapshotHolder>(),
                        options.ApplicationServices.GetRequiredService<TimeProvider>(),
                        options.ApplicationServices.GetRequiredService<ILogger<SendLimitsMiddleware>>()).OnConnectionAsync);
                    var metrics = options.ApplicationServices.GetRequiredService<GatewayMetrics>();
                    options.Use(next => new ConnectionMetricsMiddleware(next, metrics, listener.Name, listener.Protocol == ListenerProtocol.Https).OnConnectionAsync);
                    if (listener.Protocol == ListenerProtocol.Https)
                    {
                        // Certificates, protocols and ciphers come from the snapshot current at each handshake, chosen by
                        // SNI: a reload or a renewed certificate file applies to the next handshake, none in flight fails.
                        options.Protocols = HttpProtocols.Http1AndHttp2;
                        options.UseHttps(new TlsHandshakeCallbackOptions
                        {
                            OnConnection = context => ValueTask.FromResult(snapshots.Current.Tls!.OptionsFor(context.ClientHelloInfo.ServerName)),
                            HandshakeTimeout = TimeSpan.FromSeconds(10),
                        });
                        options.Use(next => new TlsSessionMiddleware(
                            next,
                            options.ApplicationServices.GetRequiredService<ILogger<TlsSessionMiddleware>>()).OnConnectionAsync);
                        options.Use(next => new TlsHandshakeMetricsMiddleware(next, metrics, listener.Name).OnConnectionAsync);
                    }
                    else
                    {
                        if (listener.Protocol == ListenerProtocol.Http)
                        {
                            eventLoopEndpoints?.Add(options);
                        }

                        // Http2 is h2c with prior knowledge only: Kestrel cannot offer both in clear text on one port.
                        options.Protocols = listener.Protocol == ListenerProtocol.Http2 ? HttpProtocols.Http2 : HttpProtocols.Http1;
                        if (listener.Protocol == ListenerProtocol.Http && http1Front)
                        {
                            options.Use(Http1Front.Http1FrontRegistration.Middleware(options.ApplicationServices, snapshot.Limits));
                        }
                    }
                });
            }
        });

        var services = builder.Services;
        if (eventLoopEndpoints is not null)
        {
            EventLoopTransport.Add(services, eventLoopEndpoints);
        }

        if (http1Front)
        {
            Http1Front.Http1FrontRegistration.Add(services);
        }

        services.AddSingleton(snapshots);
        services.AddSingleton(options.TimeProvider);
        services.AddSingleton<InstanceRegistry>();
        services.AddSingleton<IInstanceRuntimeFactory, InstanceRuntimeFactory>();
        services.AddSingleton<ProxyConfigPublisher>();
        services.AddSingleton<InstanceManager>();
        services.AddSingleton<IAvailableDestinationsPolicy, InstanceAvailabilityPolicy>();
        services.AddSingleton<NsgCounters>();
        services.AddSingleton<AccessCounters>();
        services.AddSingleton<ClientConnectionTable>();
        services.AddSingleton<RetryCounters>();
        services.AddSingleton<Forwarding.FastPath.UpstreamPools>();
        services.AddSingleton<ArrAffinityResponseTransform>();
        services.AddSingleton<Forwarding.FastPath.FastPathClientMetrics>();
        services.AddSingleton(source);
        services.AddSingleton(provider => new ConfigController(
            source,
            snapshots,
            provider.GetRequiredService<InstanceManager>(),
            options.TimeProvider,
            provider.GetRequiredService<ILogger<ConfigController>>(),
            ManagedRuleSetProviders(options)));
        services.AddSingleton(new RateLimiter(options.TimeProvider));
        services.AddSingleton<WafCounters>();
        services.AddGatewayMetrics();
        services.AddSingleton<AccessLogWriter>();
        GatewayTracing.Add(services, snapshot);
        services.AddSingleton(provider => new WafEngine(provider.GetRequiredService<RateLimiter>(), options.WafHooks, options.TimeProvider, provider.GetRequiredService<ILogger<WafEngine>>()));
        if (snapshot.Config.WafAuditLog is { } audit && (audit.Path is not null || audit.Console == true))
        {
            services.AddSingleton(provider => new WafAuditLog(
                audit.Path is null ? null : Path.GetFullPath(audit.Path, source.BaseDirectory),
                audit.Console == true,
                (audit.MaxFileSizeInMb ?? 100) * 1024L * 1024L,
                audit.MaxFiles ?? 5,
                provider.GetRequiredService<ILogger<WafAuditLog>>()));
        }
        services.AddReverseProxy()
            .LoadFromMemory([], [])
            .AddTransforms<GatewayTransformProvider>();
        UnusedFrameworkServices.RemoveDataProtectionStartup(services);
        UnusedFrameworkServices.RemoveAuthorizationMiddleware(services);
        UnusedFrameworkServices.RemoveHostFiltering(services);

        var app = builder.Build();
        app.UseMiddleware<GatewayRequestMiddleware>();
        app.UseMiddleware<RequestMetricsMiddleware>();
        app.UseMiddleware<HeaderSanityMiddleware>();
        // Made when the pipeline is built, after every route below is mapped.
        app.Use(next => new ExactHostRoutingMiddleware(next, new ExactHostEndpoints(new CompositeEndpointDataSource(((IEndpointRouteBuilder)app).DataSources))).InvokeAsync);
        app.UseRouting();
        // Decided at start (a change needs a restart): with it off the pipeline is exactly YARP's.
        var fastPath = Forwarding.FastPath.FastPathSettings.From(snapshot).Enabled;
        app.MapReverseProxy(proxy =>
        {
            proxy.UseMiddleware<AppPolicyMiddleware>();
            proxy.UseMiddleware<WafMiddleware>();
            // With the fast path last, it finishes each attempt (reports it, retries it): RetryMiddleware's remarks.
            proxy.UseMiddleware<RetryMiddleware>(fastPath);
            proxy.UseMiddleware<ArrAffinityMiddleware>();
            proxy.UseLoadBalancing();
            proxy.UseMiddleware<UpstreamMetricsMiddleware>();
            if (fastPath)
            {
                proxy.UseMiddleware<Forwarding.FastPath.FastPathForwarderMiddleware>();
            }
        });

        // Lowest priority: only requests whose host matched no app route land here.
        app.Map("/{**path}", UnknownHostEndpoint.HandleAsync).WithOrder(int.MaxValue);
        return app;
    }

    private static WebApplication BuildManagement(GatewaySnapshot snapshot, WebApplication dataPlane, GatewayServerOptions options, ListenOptionsBox box)
    {
        var builder = CreateBuilder(options);

        // A request line may carry a key a client wrongly put in the query string (refused with 401): even with the
        // framework's logging turned up, the management host never writes request lines.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = snapshot.Management.MaxRequestBodyBytes;
            Listen(kestrel, snapshot.Management.Address, snapshot.Management.Port, o => box.Options = o.Item2, null, o => o.Protocols = HttpProtocols.Http1);
        });

        // The management host shares the control plane's objects with the data plane; it has no proxy of its own.
        var shared = dataPlane.Services;
        AddManagementServices(builder.Services, shared, options);
        builder.Services.AddGatewayMetricsExport(shared);

        var app = builder.Build();
        app.UseMiddleware<ApiKeyMiddleware>();
        var snapshots = shared.GetRequiredService<SnapshotHolder>();
        MapManagementEndpoints(app, snapshots);
        OpenApiDocumentEndpoint.MapOpenApiDocument(app, services => AddManagementServices(services, shared, options), endpoints => MapManagementEndpoints(endpoints, snapshots));
        app.MapGatewayMetrics();
        return app;
    }

    /// <summary>The management host's services, also registered by the host that generates its OpenAPI document.</summary>
    private static void AddManagementServices(IServiceCollection services, IServiceProvider shared, GatewayServerOptions options)
    {
        services.AddSingleton(shared.GetRequiredService<SnapshotHolder>());
        services.AddSingleton(shared.GetRequiredService<InstanceManager>());
        services.AddSingleton(shared.GetRequiredService<ConfigController>());
        services.AddSingleton(shared.GetRequiredService<NsgCounters>());
        services.AddSingleton(shared.GetRequiredService<WafCounters>());
        services.AddSingleton(shared.GetRequiredService<RequestCounts>());
        services.AddSingleton(options.TimeProvider);
        services.AddSingleton<ScaleService>();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(json =>
        {
            // Source-generated metadata only, no reflection, in the JIT build too (see ManagementJsonContext).
            json.SerializerOptions.TypeInfoResolver = ManagementJsonContext.Default;
            json.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull;
        });
    }

    /// <summary>The endpoints the OpenAPI document describes (the metrics scrape endpoint is not among them).</summary>
    private static void MapManagementEndpoints(IEndpointRouteBuilder app, SnapshotHolder snapshots)
    {
        // Liveness for container HEALTHCHECKs and load balancers: says nothing beyond "the process serves".
        app.MapGet("/healthz", () => snapshots.HasSnapshot ? Microsoft.AspNetCore.Http.Results.Text("Healthy\n") : Microsoft.AspNetCore.Http.Results.StatusCode(503));
        app.MapManagementApi();
        app.MapDashboard();
    }

    private static IReadOnlyList<IManagedRuleSetProvider> ManagedRuleSetProviders(GatewayServerOptions options) =>
        [.. options.ManagedRuleSetProviders, .. SnapshotCompiler.BuiltInProviders];

    /// <summary>Edge-proxy limits: bounded headers, bodies, idle time and slow clients (Envoy's edge best practices).</summary>
    private static void ApplyLimits(KestrelServerOptions kestrel, LimitsModel limits)
    {
        var grace = LimitsModel.DataRateGracePeriod;
        kestrel.Limits.MaxConcurrentConnections = limits.MaxConcurrentConnections;
        kestrel.Limits.MaxConcurrentUpgradedConnections = limits.MaxConcurrentConnections;
        kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
        kestrel.Limits.KeepAliveTimeout = limits.KeepAliveTimeout;
        kestrel.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
        kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBodySize;
        kestrel.Limits.MinRequestBodyDataRate = limits.MinRequestBodyBytesPerSecond > 0 ? new MinDataRate(limits.MinRequestBodyBytesPerSecond, grace) : null;
        kestrel.Limits.MinResponseDataRate = limits.MinResponseBytesPerSecond > 0 ? new MinDataRate(limits.MinResponseBytesPerSecond, grace) : null;
        kestrel.Limits.Http2.MaxStreamsPerConnection = limits.Http2MaxStreamsPerConnection;
        // An HTTP/2 client that sends nothing for the keep-alive time while it still has streams open (one granting no
        // flow-control window, say) is pinged, and closed if it does not answer within that time again: Kestrel's
        // minimum response data rate does not reliably catch a stream stalled on flow control (h2spec session
        // e7b11cf07622 stayed open for good about one run in three), and a live client acknowledges PINGs by itself.
        kestrel.Limits.Http2.KeepAlivePingDelay = limits.KeepAliveTimeout;
        kestrel.Limits.Http2.KeepAlivePingTimeout = limits.KeepAliveTimeout;
    }

    private static WebApplicationBuilder CreateBuilder(GatewayServerOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = "AseGateway",
            ContentRootPath = AppContext.BaseDirectory,
            Args = [],
        });
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.UseSockets(sockets =>
        {
            sockets.UnsafePreferInlineScheduling = InlineIoScheduling.IsRequested();

            // Sends go straight to the thread pool instead of through Kestrel's IOQueues (one per core by default, each
            // a second queue drained by a pool work item, with a memory pool of its own): one hand-off less per
            // response write. Paired rounds on 2 cores, full feature set: ~2% less CPU per request, 2-6% more req/s.
            sockets.IOQueueCount = 0;
        });

        // After Kestrel's own: the socket transport takes the factory registered last (PerCoreMemoryPool says why).
        builder.Services.AddSingleton<PerCoreMemoryPoolFactory>();
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(services => services.GetRequiredService<PerCoreMemoryPoolFactory>());

        // Addresses come only from the configuration file; ASPNETCORE_URLS / HTTP_PORTS (set by container images)
        // must not add listeners the operator did not ask for.
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, string.Empty);
        builder.WebHost.UseSetting("HTTP_PORTS", string.Empty);
        builder.WebHost.UseSetting("HTTPS_PORTS", string.Empty);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);
        if (options.ConfigureLogging is { } configure)
        {
            configure(builder.Logging);
        }
        else if (options.ConsoleLogFormat == ConsoleLogFormat.Json)
        {
            // Microsoft.Extensions.Logging's own JSON formatter: Timestamp, EventId, LogLevel, Category, Message, State.
            builder.Logging.AddJsonConsole(console =>
            {
                console.UseUtcTimestamp = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss ";
            });
        }

        return builder;
    }

    private static void Listen(KestrelServerOptions kestrel, string address, int port, Action<(ListenerModel, ListenOptions)> bound, ListenerModel? listener, Action<ListenOptions> configure)
    {
        void Configure(ListenOptions options)
        {
            configure(options);
            bound((listener!, options));
        }

        if (address == "*")
        {
            kestrel.ListenAnyIP(port, Configure);
        }
        else if (string.Equals(address, "localhost", StringComparison.OrdinalIgnoreCase) && port != 0)
        {
            kestrel.ListenLocalhost(port, Configure);
        }
        else
        {
            // Kestrel cannot pick a free port for "localhost" (two sockets): use IPv4 loopback then.
            var ip = string.Equals(address, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(address);
            kestrel.Listen(ip, port, Configure);
        }
    }

    private async Task WaitForAppsReadyAsync(GatewaySnapshot snapshot, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (AllAppsReady(snapshot))
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }

        LogNotReady(_logger, timeout.TotalSeconds);
    }

    /// <summary>
    /// Every instance the configuration asks for is up, has passed its first health check, and is in its app's
    /// rotation as YARP's load balancer sees it. The last is a step of its own: the instance turns ready first and is
    /// then put into rotation (and its address reaches YARP through a configuration update YARP applies on its own),
    /// so a request let in between found no destination and got a 503 (seen in CI, 5 ms after start-up).
    /// </summary>
    private bool AllAppsReady(GatewaySnapshot snapshot)
    {
        foreach (var spec in snapshot.Instances)
        {
            if (_instances.FindActive(spec.Key)?.Phase != InstancePhase.Ready || !_instances.AvailableInstances(spec.AppName).Contains(spec.Key))
            {
                return false;
            }
        }

        return true;
    }

    private void ResolveUrls()
    {
        var urls = new Dictionary<string, Uri>(StringComparer.OrdinalIgnoreCase);
        foreach (var (listener, options) in _listenOptions)
        {
            var scheme = listener.Protocol == ListenerProtocol.Https ? "https" : "http";
            urls[listener.Name] = ToUrl(scheme, options);
        }

        ListenerUrls = urls;
        if (_managementListen.Options is { } management)
        {
            ManagementUrl = ToUrl("http", management);
        }
    }

    private static Uri ToUrl(string scheme, ListenOptions options)
    {
        if (options.IPEndPoint is not { } endpoint)
        {
            // ListenLocalhost: one port on both loopbacks.
            return new Uri($"{scheme}://localhost:{((IPEndPoint?)options.EndPoint)?.Port ?? 0}/");
        }

        var host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any)
            ? "127.0.0.1"
            : endpoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        return new Uri($"{scheme}://{host}:{endpoint.Port}/");
    }

    private sealed class ListenOptionsBox
    {
        public ListenOptions? Options { get; set; }
    }

    [LoggerMessage(EventId = Logging.EventIds.ListenerBound, Level = LogLevel.Information, Message = "Listener '{Listener}' is listening on {Url}.")]
    private static partial void LogListening(ILogger logger, string listener, Uri url);

    [LoggerMessage(EventId = Logging.EventIds.EventLoopsServing, Level = LogLevel.Information, Message = "{Sockets} HTTP/1.1 listen socket(s) and the connections to workers run on {Loops} event loop(s); HTTP/2 listeners on Kestrel's socket transport.")]
    private static partial void LogEventLoops(ILogger logger, int sockets, int loops);

    [LoggerMessage(EventId = Logging.EventIds.ManagementListening, Level = LogLevel.Information, Message = "Management API is listening on {Url}.")]
    private static partial void LogManagement(ILogger logger, Uri url);

    [LoggerMessage(EventId = Logging.EventIds.GatewayStarted, Level = LogLevel.Information, Message = "Environment '{Environment}' is serving {Apps} app(s) on {Instances} instance(s).")]
    private static partial void LogStarted(ILogger logger, string environment, int apps, int instances);

    [LoggerMessage(EventId = Logging.EventIds.GatewayStopping, Level = LogLevel.Information, Message = "Stopping: closing listeners, then instances.")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(EventId = Logging.EventIds.StartupNotReady, Level = LogLevel.Warning, Message = "Not every instance was ready after {Seconds} s; opening the listeners anyway (instances join as they pass their health check).")]
    private static partial void LogNotReady(ILogger logger, double seconds);
}
