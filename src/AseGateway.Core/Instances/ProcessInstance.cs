using System.Diagnostics;
using System.Net;
using AseGateway.Model;
using Microsoft.Extensions.Logging;

namespace AseGateway.Instances;

/// <summary>
/// An app instance run as a local child process on a free loopback port, supervised like an App Service worker:
/// App Service environment variables, output forwarded to the log, restarted with back-off when it exits, and
/// stopped politely (SIGTERM) then firmly (SIGKILL).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The token source has no timer; StopAsync ends its life and later calls only read IsCancellationRequested.")]
internal sealed partial class ProcessInstance : InstanceRuntime
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>A run this long counts as stable: the next crash restarts after the shortest back-off again.</summary>
    private static readonly TimeSpan StableRun = TimeSpan.FromSeconds(60);

    private readonly ProcessSpawner _spawner;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILogger _output;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    private Process? _process;
    private Task _supervision = Task.CompletedTask;

    public ProcessInstance(InstanceSpec spec, IInstanceObserver observer, ProcessSpawner spawner, TimeProvider time, ILoggerFactory loggers)
        : base(spec, observer)
    {
        if (spec.Launch is null)
        {
            throw new ArgumentException("A process instance needs a launch spec.", nameof(spec));
        }

        _spawner = spawner;
        _time = time;
        _logger = loggers.CreateLogger<ProcessInstance>();
        _output = loggers.CreateLogger("AseGateway.Instances.Output");
    }

    public override void Start() => _supervision = Task.Run(SuperviseAsync);

    public override async Task StopAsync(TimeSpan grace)
    {
        if (_stopping.IsCancellationRequested)
        {
            await _supervision;
            return;
        }

        LogStopping(_logger, Spec.Key, State.ProcessId ?? 0);
        await _stopping.CancelAsync();
        Process? process;
        lock (_gate)
        {
            process = _process;
        }

        if (process is not null)
        {
            await TerminateAsync(process, grace);
        }

        await _supervision;
        State.SetPhase(InstancePhase.Stopped);
        Observer.AvailabilityChanged(State);
        LogStopped(_logger, Spec.Key);
    }

    private async Task SuperviseAsync()
    {
        var backoff = FirstBackoff;
        while (!_stopping.IsCancellationRequested)
        {
            var startedAt = _time.GetTimestamp();
            var exitCode = await RunOnceAsync();
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            State.CountRestart();
            if (_time.GetElapsedTime(startedAt) >= StableRun)
            {
                backoff = FirstBackoff;
            }

            LogRestartScheduled(_logger, Spec.Key, exitCode, backoff.TotalSeconds);
            try
            {
                await Task.Delay(backoff, _time, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <returns>The exit code, or null when the process could not be started.</returns>
    private async Task<int?> RunOnceAsync()
    {
        var port = LoopbackPortAllocator.Shared.Next();
        var address = new Uri($"http://127.0.0.1:{port}/");
        Process process;
        try
        {
            process = await _spawner.StartAsync(CreateStartInfo(port), ForwardOutput);
        }
        catch (Exception ex)
        {
            State.SetPhase(InstancePhase.Restarting);
            Observer.AvailabilityChanged(State);
            LogStartFailed(_logger, Spec.Key, Spec.Launch!.FileName, ex.Message);
            return null;
        }

        lock (_gate)
        {
            _process = process;
        }

        using (process)
        {
            State.SetProcess(address, process.Id);
            State.SetPhase(InstancePhase.Starting);
            LogStarting(_logger, Spec.Key, process.Id, address);
            Observer.AddressChanged(State);

            if (_stopping.IsCancellationRequested)
            {
                // StopAsync ran while the process was being spawned and saw no process to stop.
                await TerminateAsync(process, TimeSpan.FromSeconds(5));
            }

            try
            {
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
            }
            catch (InvalidOperationException)
            {
                // Exited before its output could be attached; the exit is handled below.
            }

            await process.WaitForExitAsync(CancellationToken.None);
            var exitCode = process.ExitCode;
            lock (_gate)
            {
                _process = null;
            }

            State.ClearProcess();
            if (!_stopping.IsCancellationRequested)
            {
                State.SetPhase(InstancePhase.Restarting);
                Observer.AvailabilityChanged(State);
                LogExited(_logger, Spec.Key, process.Id, exitCode);
            }

            return exitCode;
        }
    }

    private ProcessStartInfo CreateStartInfo(int port)
    {
        var launch = Spec.Launch!;
        var startInfo = new ProcessStartInfo(launch.FileName)
        {
            WorkingDirectory = launch.WorkingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
        };
        foreach (var argument in launch.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var environment = startInfo.Environment;

        // The gateway's own listening settings (e.g. ASPNETCORE_HTTP_PORTS=8080 in the ASP.NET container image)
        // must not leak into the app, or it would try to bind the gateway's port.
        environment.Remove("ASPNETCORE_HTTP_PORTS");
        environment.Remove("ASPNETCORE_HTTPS_PORTS");
        environment.Remove("DOTNET_URLS");
        foreach (var (name, value) in launch.Environment)
        {
            environment[name] = value;
        }

        environment["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        environment["WEBSITE_SITE_NAME"] = Spec.AppName;
        environment["WEBSITE_INSTANCE_ID"] = Spec.InstanceId;
        environment["WEBSITE_HOSTNAME"] = Spec.HostName;
        environment["ASEGATEWAY_INSTANCE_NAME"] = Spec.InstanceName;
        return startInfo;
    }

    private void ForwardOutput(Process process)
    {
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                LogOutput(_output, Spec.Key, line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                LogOutput(_output, Spec.Key, line);
            }
        };
    }

    private async Task TerminateAsync(Process process, TimeSpan grace)
    {
        try
        {
            if (process.HasExited)
            {
                return;
            }

            if (NativeSignals.TryTerminate(process.Id))
            {
                using var timeout = new CancellationTokenSource(grace, _time);
                try
                {
                    await process.WaitForExitAsync(timeout.Token);
                    return;
                }
                catch (OperationCanceledException)
                {
                    // Did not stop in time: kill below.
                }
            }

            LogKilled(_logger, Spec.Key, process.Id);
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Already exited and disposed: nothing to stop.
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.InstanceStarting, Level = LogLevel.Information, Message = "Instance {Instance} started as process {ProcessId} on {Address}.")]
    private static partial void LogStarting(ILogger logger, string instance, int processId, Uri address);

    [LoggerMessage(EventId = Logging.EventIds.InstanceExited, Level = LogLevel.Warning, Message = "Instance {Instance} process {ProcessId} exited with code {ExitCode}.")]
    private static partial void LogExited(ILogger logger, string instance, int processId, int exitCode);

    [LoggerMessage(EventId = Logging.EventIds.InstanceRestartScheduled, Level = LogLevel.Information, Message = "Instance {Instance} (exit code {ExitCode}) restarts in {Seconds} s.")]
    private static partial void LogRestartScheduled(ILogger logger, string instance, int? exitCode, double seconds);

    [LoggerMessage(EventId = Logging.EventIds.InstanceStartFailed, Level = LogLevel.Error, Message = "Instance {Instance} could not start '{FileName}': {Reason}")]
    private static partial void LogStartFailed(ILogger logger, string instance, string fileName, string reason);

    [LoggerMessage(EventId = Logging.EventIds.InstanceStopping, Level = LogLevel.Information, Message = "Stopping instance {Instance} (process {ProcessId}).")]
    private static partial void LogStopping(ILogger logger, string instance, int processId);

    [LoggerMessage(EventId = Logging.EventIds.InstanceStopped, Level = LogLevel.Information, Message = "Instance {Instance} stopped.")]
    private static partial void LogStopped(ILogger logger, string instance);

    [LoggerMessage(EventId = Logging.EventIds.InstanceKilled, Level = LogLevel.Warning, Message = "Instance {Instance} process {ProcessId} did not stop in time and was killed.")]
    private static partial void LogKilled(ILogger logger, string instance, int processId);

    [LoggerMessage(EventId = Logging.EventIds.InstanceOutput, Level = LogLevel.Information, Message = "[{Instance}] {Line}")]
    private static partial void LogOutput(ILogger logger, string instance, string line);
}
