using AseGateway.Configuration;
using AseGateway.Control;
using AseGateway.Hosting;

namespace AseGateway.Cli;

/// <summary>What each command-line verb does. Exit codes: 0 success, 1 runtime failure, 2 invalid configuration.</summary>
internal static class GatewayCommands
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitInvalidConfig = 2;

    private const string DefaultFileName = "ase.json";
    private const string QuickstartResource = "AseGateway.quickstart.json";

    public static async Task<int> RunAsync(FileInfo? configFile, ConsoleLogFormat? logFormat, CancellationToken cancellationToken)
    {
        logFormat ??= Enum.TryParse<ConsoleLogFormat>(Environment.GetEnvironmentVariable("ASEGATEWAY_LOG_FORMAT"), ignoreCase: true, out var fromEnvironment)
            ? fromEnvironment
            : ConsoleLogFormat.Simple;
        var source = Resolve(configFile);
        var config = await source.LoadAsync(cancellationToken);
        if (!config.IsValid)
        {
            return ReportInvalid(config);
        }

        if (logFormat == ConsoleLogFormat.Simple)
        {
            // In Json mode every line on stdout is a JSON object; the log says which configuration is served.
            Console.Out.WriteLine($"AseGateway: configuration {config.SourceName}");
        }

        GatewayServer server;
        try
        {
            server = await GatewayServer.StartAsync(source, new GatewayServerOptions { ReloadOnSighup = true, ConsoleLogFormat = logFormat.Value }, cancellationToken);
        }
        catch (GatewayConfigurationException ex)
        {
            return ReportInvalid(config.SourceName, ex.Errors);
        }
        catch (IOException ex)
        {
            // Typically a port already in use: say which, without a stack trace.
            await Console.Error.WriteLineAsync($"AseGateway could not start: {ex.Message}");
            return ExitFailure;
        }

        await using (server)
        {
            // A process-wide concern, so here rather than in GatewayServer (tests run many servers in one process).
            await using var heapTrimmer = NativeHeapTrimmer.Start(NativeHeapTrimmer.Interval);
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var onShutdown = server.ShutdownRequested.Register(() => stop.TrySetResult());
            using var onCancel = cancellationToken.Register(() => stop.TrySetResult());
            await stop.Task;
        }

        return ExitOk;
    }

    public static async Task<int> ValidateAsync(FileInfo? configFile, CancellationToken cancellationToken)
    {
        var config = await Resolve(configFile).LoadAsync(cancellationToken);
        if (!config.IsValid)
        {
            return ReportInvalid(config);
        }

        Console.Out.WriteLine($"{config.SourceName}: valid (sha256 {config.Sha256}).");
        return ExitOk;
    }

    public static async Task<int> HealthCheckAsync(Uri url, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await client.GetAsync(url, cancellationToken);
            await Console.Out.WriteLineAsync($"{url}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? ExitOk : ExitFailure;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"{url}: {ex.Message}");
            return ExitFailure;
        }
    }

    /// <summary>--config, else ASEGATEWAY_CONFIG, else ./ase.json, else the quickstart shipped inside the program.</summary>
    internal static ConfigSource Resolve(FileInfo? configFile)
    {
        if (configFile is not null)
        {
            return new FileConfigSource(configFile.FullName);
        }

        if (Environment.GetEnvironmentVariable("ASEGATEWAY_CONFIG") is { Length: > 0 } fromEnvironment)
        {
            return new FileConfigSource(fromEnvironment);
        }

        if (File.Exists(DefaultFileName))
        {
            return new FileConfigSource(DefaultFileName);
        }

        using var stream = typeof(GatewayCommands).Assembly.GetManifestResourceStream(QuickstartResource)
            ?? throw new InvalidOperationException($"The embedded resource {QuickstartResource} is missing from the build.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);

        // The quickstart's relative paths (the sample app) resolve beside the gateway's own files; API changes to it
        // live in memory until the process exits.
        return new InMemoryConfigSource(buffer.ToArray(), "embedded quickstart configuration", AppContext.BaseDirectory);
    }

    private static int ReportInvalid(ConfigLoadResult config) => ReportInvalid(config.SourceName, config.Errors);

    private static int ReportInvalid(string source, IReadOnlyList<ConfigError> errors)
    {
        Console.Error.WriteLine($"{source}: {errors.Count} error(s):");
        foreach (var error in errors)
        {
            Console.Error.WriteLine($"  {error}");
        }

        return ExitInvalidConfig;
    }
}
