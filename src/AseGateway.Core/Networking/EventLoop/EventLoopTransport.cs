using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AseGateway.Networking.EventLoop;

/// <summary>Whether the data plane runs on the event loops, and their registration.</summary>
internal static partial class EventLoopTransport
{
    public const string EnvironmentVariable = "ASEGATEWAY_EVENT_LOOP";

    /// <summary>Off only where the loop cannot run, or when asked: by the host's option, else by the environment variable set to 0.</summary>
    public static bool IsEnabled(bool? requested) =>
        LinuxSockets.IsSupported && (requested ?? Environment.GetEnvironmentVariable(EnvironmentVariable) != "0");

    public static void Add(IServiceCollection services, EventLoopEndpoints endpoints)
    {
        services.AddSingleton(endpoints);
        // Registered after Kestrel's socket transport: Kestrel asks the last registered factory first.
        services.AddSingleton(provider =>
        {
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(EventLoop).FullName!);
            return new EventLoopGroup(Environment.ProcessorCount, exception => LogFailed(logger, exception));
        });
        services.AddSingleton<EventLoopTransportFactory>();
        services.AddSingleton<IConnectionListenerFactory>(provider => provider.GetRequiredService<EventLoopTransportFactory>());
    }

    [LoggerMessage(EventId = Logging.EventIds.EventLoopFailed, Level = LogLevel.Error, Message = "Unexpected failure on an event loop.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
