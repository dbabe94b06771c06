using Microsoft.Extensions.Logging;

namespace AseGateway.Control;

/// <summary>
/// Notices when the configuration file may have changed and asks for a reload, robustly: it watches the whole
/// folder (editors and deploy tools write a temporary file and rename it; Kubernetes swaps a <c>..data</c> symlink;
/// some tools delete and recreate), waits for a burst of events to settle (debounce), and polls as a fallback for
/// file systems whose events are unreliable (network mounts, some container overlays). Reloads of unchanged bytes
/// are skipped by the controller, so extra triggers cost one read and one hash.
/// </summary>
public sealed partial class ConfigFileWatcher : IDisposable
{
    private readonly FileConfigSource _source;
    private readonly Func<string, Task> _reload;
    private readonly TimeSpan _debounce;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _debounceTimer;
    private readonly ITimer _pollTimer;
    private readonly Lock _gate = new();
    private FileSystemWatcher? _watcher;
    private bool _disposed;

    public ConfigFileWatcher(FileConfigSource source, Func<string, Task> reload, TimeSpan debounce, TimeSpan pollInterval, TimeProvider time, ILogger<ConfigFileWatcher> logger)
    {
        _source = source;
        _reload = reload;
        _debounce = debounce;
        _time = time;
        _logger = logger;
        _debounceTimer = time.CreateTimer(static state => ((ConfigFileWatcher)state!).Fire("file change"), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _pollTimer = time.CreateTimer(static state => ((ConfigFileWatcher)state!).Fire("poll"), this, pollInterval, pollInterval);
        StartWatcher();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _watcher?.Dispose();
            _watcher = null;
        }

        _debounceTimer.Dispose();
        _pollTimer.Dispose();
    }

    private void StartWatcher()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _watcher?.Dispose();
            var folder = Path.GetDirectoryName(_source.FullPath)!;
            try
            {
                var watcher = new FileSystemWatcher(folder)
                {
                    IncludeSubdirectories = false,
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                };
                watcher.Changed += OnEvent;
                watcher.Created += OnEvent;
                watcher.Deleted += OnEvent;
                watcher.Renamed += OnEvent;
                watcher.Error += OnError;
                watcher.EnableRaisingEvents = true;
                _watcher = watcher;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException)
            {
                // No events (folder gone, inotify limits): polling still catches every change, only later.
                _watcher = null;
                LogWatchUnavailable(_logger, folder, ex.Message);
            }
        }
    }

    private void OnEvent(object sender, FileSystemEventArgs e) => _debounceTimer.Change(_debounce, Timeout.InfiniteTimeSpan);

    private void OnError(object sender, ErrorEventArgs e)
    {
        LogWatchUnavailable(_logger, _source.FullPath, e.GetException().Message);
        StartWatcher();
        Fire("watcher error");
    }

    private void Fire(string trigger)
    {
        if (_disposed)
        {
            return;
        }

        _ = RunAsync(trigger);
    }

    private async Task RunAsync(string trigger)
    {
        try
        {
            await _reload(trigger);
        }
        catch (Exception ex)
        {
            LogReloadFailed(_logger, trigger, ex.Message);
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.ConfigWatchUnavailable, Level = LogLevel.Warning, Message = "Cannot watch '{Path}' for changes ({Reason}); relying on polling.")]
    private static partial void LogWatchUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = Logging.EventIds.ConfigReloadFailed, Level = LogLevel.Error, Message = "Reload after {Trigger} failed: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string trigger, string reason);
}
