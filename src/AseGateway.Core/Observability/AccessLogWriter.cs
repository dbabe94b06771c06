using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using AseGateway.Configuration;
using Microsoft.Extensions.Logging;

namespace AseGateway.Observability;

/// <summary>
/// Writes access-log entries on a thread of its own. The request path only counts and enqueues a struct; when the
/// queue holds <see cref="AccessLogModel.QueueCapacity"/> entries the new one is dropped and counted (a warning says
/// so, at most once a minute) — like nginx's buffered access log, the log never makes a request wait. The writer
/// formats into one reused buffer and writes it to the file, rotating by size and whenever it opens a file.
/// </summary>
/// <remarks>
/// A thread of its own, as Envoy's access-log flush thread, rather than a task: with the thread pool, each batch woke
/// pool threads (for the timer, the queue's reader and every file write, which .NET runs as a blocking call queued to
/// the pool) and each then spun looking for more work — over HTTP/1.1, where the event loops do all the rest, that
/// spinning was most of the pool's CPU and ten times the gateway's sched_yield calls. This thread sleeps through
/// its batch window and writes with plain blocking calls; the only other wake-up is for the first entry after it went
/// idle, and a hung file system holds up nothing but the log.
/// </remarks>
internal sealed partial class AccessLogWriter : IAsyncDisposable
{
    private const int FlushThresholdBytes = 64 * 1024;
    private static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(50);
    private static readonly long DropWarningIntervalMs = 60_000;

    // A lock-free queue, not a channel: a channel's write takes its lock on every request (for readers waiting on it),
    // and this writer never waits on the queue, only on _wake.
    private readonly ConcurrentQueue<AccessLogEntry> _queue = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushThresholdBytes * 2);
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private readonly Utf8JsonWriter _json;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    // No spinning before it blocks: nothing is gained by waking early, and each spin yields the CPU (sched_yield).
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queued;
    private long _dropped;
    private long _written;
    private long _droppedReported;
    private long _lastDropWarning = long.MinValue / 2;

    // 1 while the writer waits with nothing queued: the next enqueue wakes it (only that one; the rest gather).
    private int _idle;

    // 1 once disposal began: entries are dropped from then on, and the writer ends when the queue is empty.
    private int _completing;

    // 1 once the writer ended: an entry that raced disposal past its check and is queued after the writer's last look
    // is dropped (and counted) by the enqueue itself.
    private int _ended;

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
        var thread = new Thread(static state => ((AccessLogWriter)state!).WriteLoop()) { IsBackground = true, Name = "Access log writer" };
        thread.UnsafeStart(this);
    }

    /// <summary>Entries dropped because the queue was full (or the file could not be written).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Entries written to the file.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Entries waiting for the writer.</summary>
    public long QueueLength => Interlocked.Read(ref _queued);

    /// <summary>Raised on the writer thread after each batch reaches the file (tests wait on it).</summary>
    public event Action? Flushed;

    /// <summary>The hot path: never blocks, never formats.</summary>
    public void Enqueue(in AccessLogEntry entry)
    {
        if (Interlocked.Increment(ref _queued) > entry.Settings.QueueCapacity || Volatile.Read(ref _completing) != 0)
        {
            Interlocked.Decrement(ref _queued);
            CountDropped(1);
            return;
        }

        _queue.Enqueue(entry);
        WakeIfIdle();

        // The enqueue (its tail's compare-exchange) and the writer's exchange of _ended are both full fences: either
        // the writer's last drain sees this entry or this read sees the writer gone. Either way it is written or counted.
        if (Volatile.Read(ref _ended) != 0)
        {
            DropLate();
        }
    }

    /// <summary>
    /// The host's current settings (at start and after each reload): from then on they, not the entries, choose the
    /// file, which is closed, switched or opened now rather than at the next request.
    /// </summary>
    public void Apply(AccessLogModel settings)
    {
        if (!ReferenceEquals(settings, Volatile.Read(ref _settings)) && Volatile.Read(ref _completing) == 0)
        {
            _queue.Enqueue(new AccessLogEntry { Settings = settings, IsSettingsChange = true, Method = string.Empty });
            WakeIfIdle();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _completing, 1);
        _wake.Set();

        // Bounded: a file system that hangs must not hang shutdown.
        await _stopped.Task.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// The queue write before (a compare-exchange of the queue's tail) and the exchange here are both full fences, as are
    /// the writer's exchange and its look at the queue (which sees a tail moved past an entry not yet published, and
    /// waits for it): one of the two sides always sees the other, so an entry never waits for a writer that went to sleep.
    /// </summary>
    private void WakeIfIdle()
    {
        if (Volatile.Read(ref _idle) != 0 && Interlocked.Exchange(ref _idle, 0) != 0)
        {
            _wake.Set();
        }
    }

    private void WriteLoop()
    {
        try
        {
            while (true)
            {
                _wake.Reset();
                var wrote = TryWriteBatch();
                if (Volatile.Read(ref _completing) != 0 && _queue.IsEmpty)
                {
                    return;
                }

                if (wrote)
                {
                    // Let entries gather before the next batch: while the writer sleeps, an enqueue is a plain queue
                    // write, never a wake-up per request (nginx's buffered log, with a short window).
                    _wake.Wait(BatchWindow);
                    continue;
                }

                Interlocked.Exchange(ref _idle, 1);
                if (_queue.IsEmpty && Volatile.Read(ref _completing) == 0)
                {
                    _wake.Wait();
                }

                Interlocked.Exchange(ref _idle, 0);
            }
        }
        finally
        {
            // An entry that raced disposal past its check is dropped, and counted, as one after it is.
            Interlocked.Exchange(ref _ended, 1);
            DropLate();

            try
            {
                Close();
                _json.Dispose();
            }
            catch (Exception ex)
            {
                LogWriterFailed(_logger, ex);
            }

            _stopped.TrySetResult();
        }
    }

    /// <summary>Drops, and counts, what is queued once the writer ended (several threads may drain at once; each entry goes once).</summary>
    private void DropLate()
    {
        while (_queue.TryDequeue(out var late))
        {
            if (!late.IsSettingsChange)
            {
                Interlocked.Decrement(ref _queued);
                CountDropped(1);
            }
        }
    }

    /// <summary>Writes what is queued; false when there was nothing. A failure of the writer itself loses the batch, not the log.</summary>
    private bool TryWriteBatch()
    {
        var batch = 0;
        var any = false;
        try
        {
            while (_queue.TryDequeue(out var entry))
            {
                any = true;
                if (entry.IsSettingsChange)
                {
                    _applied = true;
                    Switch(entry.Settings);
                    continue;
                }

                // Once the host applies settings, they alone choose the file: a request that started before a
                // reload carries the old settings and must not switch the file back.
                Interlocked.Decrement(ref _queued);
                if (!_applied && !entry.Settings.SameFile(_settings))
                {
                    Switch(entry.Settings);
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
                    WriteBuffer();
                    Rotate();
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
                    WriteBuffer();
                }
            }

            WriteBuffer();
            if (any)
            {
                Interlocked.Add(ref _written, batch);
                Flushed?.Invoke();
            }
        }
        catch (Exception ex)
        {
            // A bug, not the file (its errors are handled where they happen): an exception on this thread would end
            // the process, so it is reported and the writer goes on with the next batch.
            _line.ResetWrittenCount();
            _buffer.ResetWrittenCount();
            LogWriterFailed(_logger, ex);
        }

        return any;
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
    private void Switch(AccessLogModel settings)
    {
        var previous = _settings;
        _settings = settings;
        if (previous.SameFile(settings) && (_file is not null || !settings.Enabled))
        {
            return;
        }

        Close();
        if (settings.Enabled)
        {
            Open();
        }
    }

    /// <summary>Every file the writer opens starts fresh (an existing one is rotated first): one header, one format per file.</summary>
    private void Open()
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
                WriteBuffer();
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

    private void Rotate()
    {
        Close();
        Open();
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

    private void WriteBuffer()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        try
        {
            if (_file is not null)
            {
                _file.Write(_buffer.WrittenSpan);
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

    private void Close()
    {
        WriteBuffer();
        if (_file is { } file)
        {
            _file = null;
            try
            {
                file.Dispose();
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

    [LoggerMessage(EventId = Logging.EventIds.AccessLogWriterFailed, Level = LogLevel.Error, Message = "The access log writer failed; the entries of this batch are lost.")]
    private static partial void LogWriterFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = Logging.EventIds.AccessLogRecovered, Level = LogLevel.Information, Message = "The access log '{Path}' is being written again.")]
    private static partial void LogRecovered(ILogger logger, string path);
}
