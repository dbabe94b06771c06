using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AseGateway.Http1Front;

/// <summary>
/// The gateway's own HTTP/1.1 front for clear-text listeners: a connection middleware in front of Kestrel's HTTP/1.1
/// layer that serves the plain requests itself (<see cref="RequestHeadParser"/> says which) through the same
/// application pipeline, the same <see cref="IHttpApplication{TContext}"/> Kestrel runs (hosting's diagnostics and
/// metrics included), and hands the connection to Kestrel, bytes unread, at the first request it does not serve.
/// Kestrel's HTTP/1.1 layer was about 2 µs of a request's 30 on two cores (stop 40's profiles); the front's heads
/// cost less because they carry less: no upgrade, no decoding, and a body only when a Content-Length frames it and it
/// is small enough to be read whole before the request starts (<see cref="RequestHead.MaxBody"/>).
/// </summary>
internal static class Http1FrontRegistration
{
    public const string EnvironmentVariable = "ASEGATEWAY_HTTP1_FRONT";

    /// <summary>As the caller asks; else on, unless the environment variable is 0.</summary>
    public static bool IsEnabled(bool? requested) => requested ?? Environment.GetEnvironmentVariable(EnvironmentVariable) != "0";

    /// <summary>Wraps the registered server so that the application it is started with is also the front's.</summary>
    public static void Add(IServiceCollection services)
    {
        ServiceDescriptor? server = null;
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(IServer))
            {
                server = descriptor;
            }
        }

        if (server is null)
        {
            throw new InvalidOperationException("No server is registered for the HTTP/1.1 front to run beside.");
        }

        services.Remove(server);
        services.AddSingleton<Http1FrontApplication>();
        services.AddSingleton<Http1FrontHeartbeat>();
        services.AddSingleton<IServer>(provider => new ApplicationCapturingServer(CreateServer(provider, server), provider.GetRequiredService<Http1FrontApplication>()));
    }

    /// <summary>The connection middleware for one listener.</summary>
    /// <param name="limits">Kestrel's limits, as applied when it started (a reload does not change them for either).</param>
    public static Func<ConnectionDelegate, ConnectionDelegate> Middleware(IServiceProvider services, Model.LimitsModel limits)
    {
        var application = services.GetRequiredService<Http1FrontApplication>();
        var settings = new FrontSettings(limits, services.GetRequiredService<Http1FrontHeartbeat>(), services.GetRequiredService<ILogger<Http1FrontApplication>>());
        return next => connection => application.Runner is { } runner ? runner.RunAsync(connection, next, settings) : next(connection);
    }

    private static IServer CreateServer(IServiceProvider provider, ServiceDescriptor descriptor) => descriptor switch
    {
        { ImplementationInstance: IServer instance } => instance,
        { ImplementationFactory: { } factory } => (IServer)factory(provider),
        { ImplementationType: { } type } => (IServer)ActivatorUtilities.CreateInstance(provider, type),
        _ => throw new InvalidOperationException("The registered server cannot be created."),
    };

    /// <summary>The server as registered; its application is kept for the front before it starts.</summary>
    private sealed class ApplicationCapturingServer(IServer inner, Http1FrontApplication front) : IServer
    {
        public IFeatureCollection Features => inner.Features;

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull
        {
            front.Runner = new Http1FrontRunner<TContext>(application, front);
            return inner.StartAsync(application, cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>What a connection of the front needs from the listener it serves.</summary>
internal sealed record FrontSettings(Model.LimitsModel Limits, Http1FrontHeartbeat Heartbeat, ILogger Logger);

/// <summary>The data plane's application once its server started (null before), and what the front did with it.</summary>
internal sealed class Http1FrontApplication
{
    private long _served;
    private long _handedOff;

    public IHttp1FrontRunner? Runner { get; set; }

    /// <summary>Requests the front served, counted when their connection leaves it.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Connections handed to Kestrel.</summary>
    public long HandedOff => Interlocked.Read(ref _handedOff);

    public void Count(long served, bool handedOff)
    {
        Interlocked.Add(ref _served, served);
        if (handedOff)
        {
            Interlocked.Increment(ref _handedOff);
        }
    }
}

internal interface IHttp1FrontRunner
{
    Task RunAsync(ConnectionContext connection, ConnectionDelegate kestrel, FrontSettings settings);
}

/// <summary>Serves a connection with the application's context type.</summary>
internal sealed class Http1FrontRunner<TContext>(IHttpApplication<TContext> application, Http1FrontApplication counts) : IHttp1FrontRunner
    where TContext : notnull
{
    public async Task RunAsync(ConnectionContext connection, ConnectionDelegate kestrel, FrontSettings settings)
    {
        using var front = new FrontConnection<TContext>(connection, application, settings);
        var handOff = await front.ServeAsync();
        counts.Count(front.RequestsServed, handOff);
        if (handOff)
        {
            connection.Transport = front.HandOffTransport();
            await kestrel(connection);
        }
    }
}
