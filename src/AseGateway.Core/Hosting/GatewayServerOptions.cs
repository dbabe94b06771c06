using Microsoft.Extensions.Logging;

namespace AseGateway.Hosting;

/// <summary>How the gateway process hosts itself; the configuration file says everything else.</summary>
public sealed class GatewayServerOptions
{
    /// <summary>Changes logging (e.g. tests route logs to their output); console logging is the default.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>How console log lines look when <see cref="ConfigureLogging"/> is not set.</summary>
    public ConsoleLogFormat ConsoleLogFormat { get; init; }

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

    /// <summary>In-process WAF inspectors, run in order after each policy's rules (before its external hooks).</summary>
    public IReadOnlyList<Waf.IWafHook> WafHooks { get; init; } = [];

    /// <summary>Managed rule sets beyond the built-in ones (e.g. an OWASP CRS engine), by type and version.</summary>
    public IReadOnlyList<Waf.IManagedRuleSetProvider> ManagedRuleSetProviders { get; init; } = [];

    /// <summary>
    /// Run the clear-text HTTP/1.1 listeners and the fast path's connections to workers on the gateway's own epoll event loops
    /// (x86-64 Linux; elsewhere Kestrel's socket transport serves). Null: on, unless the environment variable
    /// <c>ASEGATEWAY_EVENT_LOOP</c> is <c>0</c>.
    /// </summary>
    public bool? EventLoop { get; init; }

    /// <summary>
    /// Serve plain HTTP/1.1 requests on clear-text listeners with the gateway's own HTTP/1.1 front, ahead of Kestrel's
    /// (which takes every request the front does not). Null: on, unless the environment variable
    /// <c>ASEGATEWAY_HTTP1_FRONT</c> is <c>0</c>.
    /// </summary>
    public bool? Http1Front { get; init; }

    /// <summary>Reload on SIGHUP. Process-wide, so only the program (not tests) turns it on.</summary>
    public bool ReloadOnSighup { get; init; }
}

/// <summary>Console log lines: one readable line each, or one JSON object each (for container log collectors).</summary>
public enum ConsoleLogFormat
{
    Simple,
    Json,
}
