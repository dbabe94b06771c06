using Microsoft.Extensions.Logging;

namespace AseGateway.Control;

/// <summary>
/// Notices when the configuration file may have changed and asks for a reload, robustly: it watches the whole
/// folder (editors and deploy tools write a temporary file and rename it; Kubernetes swaps a <c>..data</c> symlink;
/// some tools delete and recreate), waits for a burst of events to settle (debounce), and polls as a fallback for
/// file systems whose events are unreliable (network mounts, some container overlays). Reloads of unchanged bytes
/// are skipped by the controller, so extra triggers cost one read and one hash. Only events for the configuration's
/// own name count (see <see cref="ConcernsConfiguration"/>): a busy neighbour in the folder would otherwise push the
/// debounce back for as long as it is written.
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
    private readonly string _fileName;
    private volatile string? _linkTargetName;
    private FileSystemWatcher? _watcher;
    private bool _disposed;

    public ConfigFileWatcher(FileConfigSource source, Func<string, Task> reload, TimeSpan debounce, TimeSpan pollInterval, TimeProvider time, ILogger<ConfigFileWatcher> logger)
    {
        _source = source;
        _reload = reload;
        _debounce = debounce;
        _time = time;
        _logger = logger;
        _fileName = Path.GetFileName(source.FullPath);
        _linkTargetName = LinkTargetInFolder(source.FullPath);
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

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        if (ConcernsConfiguration(e.Name) || (e is RenamedEventArgs renamed && ConcernsConfiguration(renamed.OldName)))
        {
            _debounceTimer.Change(_debounce, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Whether an event in the folder may have changed what the configuration's path reads: the file itself (written
    /// in place, renamed over, deleted, recreated), a name starting with <c>..</c> (a Kubernetes ConfigMap swaps its
    /// <c>..data</c> link to a new <c>..version</c> folder), or the file the configuration links to when that lies in
    /// the same folder. Anything else — an access log or a load generator's output beside the configuration — is
    /// ignored: each of its writes restarted the debounce, so a neighbour written more often than the debounce held
    /// every reload back to the next poll (and woke a timer per write).
    /// </summary>
    private bool ConcernsConfiguration(string? name)
    {
        if (name is null)
        {
            return true;
        }

        if (string.Equals(name, _fileName, FileNameComparison))
        {
            // The link may have been re-pointed: follow it from now on.
            _linkTargetName = LinkTargetInFolder(_source.FullPath);
            return true;
        }

        return name.StartsWith("..", StringComparison.Ordinal) || string.Equals(name, _linkTargetName, FileNameComparison);
    }

    private static StringComparison FileNameComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>The name of the file <paramref name="path"/> links to when that file is in the same folder; else null.</summary>
    private static string? LinkTargetInFolder(string path)
    {
        try
        {
            var target = new FileInfo(path).LinkTarget;
            if (target is null)
            {
                return null;
            }

            var folder = Path.GetDirectoryName(path)!;
            var full = Path.GetFullPath(target, folder);
            return string.Equals(Path.GetDirectoryName(full), folder, FileNameComparison) ? Path.GetFileName(full) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

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
