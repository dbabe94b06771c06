using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using AseGateway.Configuration;
using Microsoft.Extensions.Logging;

namespace AseGateway.Observability;

/// <summary>
/// Writes access-log entries on one background task. The request path only counts and enqueues a struct; when the
/// queue holds <see cref="AccessLogModel.QueueCapacity"/> entries the new one is dropped and counted (a warning says
/// so, at most once a minute) — like nginx's buffered access log, the log never makes a request wait. The writer
/// formats into one reused buffer and writes it with a FileStream, rotating by size and whenever it opens a file.
/// </summary>
internal sealed partial class AccessLogWriter : IAsyncDisposable
{
    private const int FlushThresholdBytes = 64 * 1024;
    private static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(50);
    private static readonly long DropWarningIntervalMs = 60_000;

    private readonly Channel<AccessLogEntry> _queue = Channel.CreateUnbounded<AccessLogEntry>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushThresholdBytes * 2);
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private readonly Utf8JsonWriter _json;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private long _queued;
    private long _dropped;
    private long _written;
    private long _droppedReported;
    private long _lastDropWarning = long.MinValue / 2;

    private AccessLogModel _settings = AccessLogModel.Disabled;
    private FileStream? _file;
    private long _fileBytes;
    private bool _fileHasEntries;
    private bool _failing;
    private bool _applied;

    public AccessLogWriter(TimeProvider time, ILogger<AccessLogWriter> logger)
    {
        _time = time;
        _logger = logger;
        _json = new Utf8JsonWriter(_line, new JsonWriterOptions { SkipValidation = true });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Entries dropped because the queue was full (or the file could not be written).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Entries written to the file.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Entries waiting for the writer.</summary>
    public long QueueLength => Interlocked.Read(ref _queued);

    /// <summary>Raised on the writer task after each batch reaches the file (tests wait on it).</summary>
    public event Action? Flushed;

    /// <summary>The hot path: never blocks, never formats.</summary>
    public void Enqueue(in AccessLogEntry entry)
    {
        if (Interlocked.Increment(ref _queued) > entry.Settings.QueueCapacity || !_queue.Writer.TryWrite(entry))
        {
            Interlocked.Decrement(ref _queued);
            CountDropped(1);
        }
    }

    /// <summary>
    /// The host's current settings (at start and after each reload): from then on they, not the entries, choose the
    /// file, which is closed, switched or opened now rather than at the next request.
    /// </summary>
    public void Apply(AccessLogModel settings)
    {
        if (!ReferenceEquals(settings, Volatile.Read(ref _settings)))
        {
            _queue.Writer.TryWrite(new AccessLogEntry { Settings = settings, IsSettingsChange = true, Method = string.Empty });
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();

        // Bounded: a file system that hangs must not hang shutdown.
        await _writer.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                var batch = 0;
                while (reader.TryRead(out var entry))
                {
                    if (entry.IsSettingsChange)
                    {
                        _applied = true;
                        await SwitchAsync(entry.Settings);
                        continue;
                    }

                    // Once the host applies settings, they alone choose the file: a request that started before a
                    // reload carries the old settings and must not switch the file back.
                    Interlocked.Decrement(ref _queued);
                    if (!_applied && !entry.Settings.SameFile(_settings))
                    {
                        await SwitchAsync(entry.Settings);
                    }

                    if (_file is null)
                    {
                        if (_settings.Enabled)
                        {
                            CountDropped(1);
                        }

                        continue;
                    }

                    // A file never grows past its limit (unless one line alone is larger): rotate before the line that would.
                    Format(entry);
                    if (_fileBytes + _buffer.WrittenCount + _line.WrittenCount > _settings.MaxFileBytes && _fileHasEntries)
                    {
                        await WriteBufferAsync();
                        await RotateAsync();
                        if (_file is null)
                        {
                            _line.ResetWrittenCount();
                            CountDropped(1);
                            continue;
                        }
                    }

                    _buffer.Write(_line.WrittenSpan);
                    _line.ResetWrittenCount();
                    _fileHasEntries = true;
                    batch++;
                    if (_buffer.WrittenCount >= FlushThresholdBytes)
                    {
                        await WriteBufferAsync();
                    }
                }

                await WriteBufferAsync();
                if (_file is not null)
                {
                    await FlushAsync();
                }

                Interlocked.Add(ref _written, batch);
                Flushed?.Invoke();

                // Let entries gather before the next wake-up: while the writer is not waiting, an enqueue is a plain
                // queue write, never a thread-pool wake-up per request (nginx's buffered log, with a short window).
                if (!reader.Completion.IsCompleted)
                {
                    await Task.Delay(BatchWindow);
                }
            }
        }
        finally
        {
            await CloseAsync();
            _json.Dispose();
        }
    }

    private void Format(in AccessLogEntry entry)
    {
        if (_settings.Format == AccessLogFormat.Json)
        {
            AccessLogFormatter.WriteJson(_line, _json, entry);
        }
        else
        {
            AccessLogFormatter.WriteW3C(_line, entry);
        }
    }

    /// <summary>Closes the current file and, when enabled, opens the one the new settings name.</summary>
    private async Task SwitchAsync(AccessLogModel settings)
    {
        var previous = _settings;
        _settings = settings;
        if (previous.SameFile(settings) && (_file is not null || !settings.Enabled))
        {
            return;
        }

        await CloseAsync();
        if (settings.Enabled)
        {
            await OpenAsync();
        }
    }

    /// <summary>Every file the writer opens starts fresh (an existing one is rotated first): one header, one format per file.</summary>
    private async Task OpenAsync()
    {
        var path = _settings.FullPath!;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (new FileInfo(path) is { Exists: true, Length: > 0 })
            {
                ShiftRotatedFiles(path, _settings.RetainedFiles);
            }

            _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 0, useAsync: false);
            _fileBytes = 0;
            _fileHasEntries = false;
            if (_settings.Format == AccessLogFormat.W3C)
            {
                AccessLogFormatter.WriteW3CHeader(_buffer, _time.GetUtcNow().UtcDateTime);
                await WriteBufferAsync();
            }

            if (_failing)
            {
                _failing = false;
                LogRecovered(_logger, path);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Fail(ex);
        }
    }

    private async Task RotateAsync()
    {
        await CloseAsync();
        await OpenAsync();
    }

    /// <summary>access.log.{n-1} → access.log.{n} … access.log → access.log.1; what falls past <paramref name="retained"/> is deleted.</summary>
    private static void ShiftRotatedFiles(string path, int retained)
    {
        File.Delete($"{path}.{retained}");
        for (var generation = retained - 1; generation >= 0; generation--)
        {
            var from = generation == 0 ? path : $"{path}.{generation}";
            if (File.Exists(from))
            {
                if (retained == 0)
                {
                    File.Delete(from);
                }
                else
                {
                    File.Move(from, $"{path}.{generation + 1}", overwrite: true);
                }
            }
        }
    }

    private async Task WriteBufferAsync()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        try
        {
            if (_file is not null)
            {
                await _file.WriteAsync(_buffer.WrittenMemory);
                _fileBytes += _buffer.WrittenCount;
            }
        }
        catch (IOException ex)
        {
            Fail(ex);
        }
        finally
        {
            _buffer.ResetWrittenCount();
        }
    }

    private async Task FlushAsync()
    {
        try
        {
            await _file!.FlushAsync();
        }
        catch (IOException ex)
        {
            Fail(ex);
        }
    }

    private async Task CloseAsync()
    {
        await WriteBufferAsync();
        if (_file is { } file)
        {
            _file = null;
            try
            {
                await file.DisposeAsync();
            }
            catch (IOException ex)
            {
                Fail(ex);
            }
        }
    }

    /// <summary>The file is closed; entries are dropped and counted until the next open succeeds. Logged once per failure spell.</summary>
    private void Fail(Exception ex)
    {
        _file?.Dispose();
        _file = null;
        if (!_failing)
        {
            _failing = true;
            LogWriteFailed(_logger, _settings.FullPath ?? "-", ex.Message);
        }
    }

    private void CountDropped(long count)
    {
        var total = Interlocked.Add(ref _dropped, count);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastDropWarning);
        if (now - last >= DropWarningIntervalMs && Interlocked.CompareExchange(ref _lastDropWarning, now, last) == last)
        {
            var since = total - Interlocked.Exchange(ref _droppedReported, total);
            LogDropped(_logger, since, total);
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.AccessLogDropped, Level = LogLevel.Warning, Message = "The access log fell behind: {Count} entr(y/ies) dropped since the last warning ({Total} in all); requests were not slowed.")]
    private static partial void LogDropped(ILogger logger, long count, long total);

    [LoggerMessage(EventId = Logging.EventIds.AccessLogWriteFailed, Level = LogLevel.Error, Message = "The access log '{Path}' cannot be written: {Reason}; entries are dropped until it can.")]
    private static partial void LogWriteFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = Logging.EventIds.AccessLogRecovered, Level = LogLevel.Information, Message = "The access log '{Path}' is being written again.")]
    private static partial void LogRecovered(ILogger logger, string path);
}
