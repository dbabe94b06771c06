using Microsoft.Extensions.Logging;

namespace AseGateway.Hosting;

/// <summary>How the gateway process hosts itself; the configuration file says everything else.</summary>
public sealed class GatewayServerOptions
{
    /// <summary>Changes logging (e.g. tests route logs to their output); console logging is the default.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// How long start-up waits for every app to have a ready instance before opening the listeners anyway.
    /// Opening early would answer the first requests with 503.
    /// </summary>
    public TimeSpan StartupReadyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Reload when the configuration file changes (file sources only).</summary>
    public bool WatchConfigFile { get; init; } = true;

    /// <summary>How long file events must be quiet before a reload: one save is often several events.</summary>
    public TimeSpan ConfigDebounce { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Re-read the file this often even without events (network mounts, overlays lose events).</summary>
    public TimeSpan ConfigPollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Reload on SIGHUP. Process-wide, so only the program (not tests) turns it on.</summary>
    public bool ReloadOnSighup { get; init; }
}
