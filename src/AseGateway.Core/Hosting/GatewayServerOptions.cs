using Microsoft.Extensions.Logging;

namespace AseGateway.Hosting;

/// <summary>How the gateway process hosts itself; the configuration file says everything else.</summary>
public sealed class GatewayServerOptions
{
    /// <summary>Changes logging (e.g. tests route logs to their output); console logging is the default.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// How long start-up waits for every instance to pass its first health check before opening the listeners anyway.
    /// Opening early would answer the first requests with 503.
    /// </summary>
    public TimeSpan StartupReadyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Reload when the configuration file changes (file sources only).</summary>
    public bool WatchConfigFile { get; init; } = true;

    /// <summary>Overrides the file's <c>reload.debounceMilliseconds</c>.</summary>
    public TimeSpan? ConfigDebounce { get; init; }

    /// <summary>Overrides the file's <c>reload.pollIntervalSeconds</c>.</summary>
    public TimeSpan? ConfigPollInterval { get; init; }

    /// <summary>Reload on SIGHUP. Process-wide, so only the program (not tests) turns it on.</summary>
    public bool ReloadOnSighup { get; init; }
}
