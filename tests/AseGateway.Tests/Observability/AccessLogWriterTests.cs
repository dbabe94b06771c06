using System.Buffers;
using System.Net;
using System.Text;
using AseGateway.Configuration;
using AseGateway.Observability;
using AseGateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Tests.Observability;

/// <summary>The writer and formatter on their own, on real files: rotation, retention, W3C escaping.</summary>
public sealed class AccessLogWriterTests : IDisposable
{
    private readonly ConfigDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Rotation_BySizeAndAtStart_KeepsRetainedFiles_EachWithItsHeader()
    {
        const int Entries = 300;
        var path = Path.Combine(_folder.Path, "access.log");
        await using var writer = await WriteAsync(path, "from the previous run\n", AccessLogFormat.W3C, maxFileBytes: 4096, retainedFiles: 2, Entries, i => $"/entry/{i}");

        Assert.True(File.Exists(path + ".1"));
        Assert.True(File.Exists(path + ".2"));
        Assert.False(File.Exists(path + ".3"));
        var stems = new List<string>();
        foreach (var file in new[] { path + ".2", path + ".1", path })
        {
            var lines = AccessLogTests.ReadLines(file);
            Assert.StartsWith("#Software: ", lines[0]);
            Assert.Equal("#Fields: " + AccessLogFormatter.W3CFields, lines[3]);
            Assert.DoesNotContain("from the previous run", lines);
            Assert.InRange(new FileInfo(file).Length, 1, 4096);
            stems.AddRange(lines.Skip(4).Select(l => l.Split(' ')[4]));
        }

        // The newest entries survive, in order, with none lost inside the retained files.
        var first = int.Parse(stems[0]["/entry/".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Enumerable.Range(first, Entries - first).Select(i => $"/entry/{i}"), stems);
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public async Task RetainedFilesZero_OnlyTheCurrentFileIsKept()
    {
        var path = Path.Combine(_folder.Path, "only.log");
        await using var writer = await WriteAsync(path, "old\n", AccessLogFormat.Json, maxFileBytes: 1024, retainedFiles: 0, 50, i => $"/{i}");
        Assert.Equal(["only.log"], Directory.GetFiles(_folder.Path, "only.log*").Select(Path.GetFileName));
        Assert.Contains("\"/49\"", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppliedSettings_ChooseTheFile_AnEntryFromBeforeAReloadDoesNotSwitchBack()
    {
        var before = new AccessLogModel(true, AccessLogFormat.W3C, Path.Combine(_folder.Path, "before.log"), 1 << 20, 1, 100, false);
        var after = before with { FullPath = Path.Combine(_folder.Path, "after.log") };
        await using var writer = new AccessLogWriter(TimeProvider.System, NullLogger<AccessLogWriter>.Instance);
        writer.Apply(after);
        writer.Enqueue(Entry(before, "/in-flight"));
        writer.Enqueue(Entry(after, "/new"));
        await AccessLogTests.WaitForWrittenAsync(writer, 2);

        Assert.False(File.Exists(before.FullPath));
        Assert.Equal(["/in-flight", "/new"], AccessLogTests.ReadLines(after.FullPath!).Skip(4).Select(l => l.Split(' ')[4]));
    }

    [Fact]
    public async Task IdleWriter_WakesForTheNextEntry_EachTimeItWentToSleep()
    {
        // The writer thread sleeps with nothing queued and only the first entry after that wakes it.
        var settings = new AccessLogModel(true, AccessLogFormat.W3C, Path.Combine(_folder.Path, "idle.log"), 1 << 20, 1, 100, false);
        await using var writer = new AccessLogWriter(TimeProvider.System, NullLogger<AccessLogWriter>.Instance);
        writer.Apply(settings);
        for (var i = 1; i <= 4; i++)
        {
            // Past the batch window: the writer has found the queue empty and is waiting for a wake-up.
            await Task.Delay(150);
            writer.Enqueue(Entry(settings, $"/late/{i}"));
            await AccessLogTests.WaitForWrittenAsync(writer, i);
        }

        Assert.Equal(["/late/1", "/late/2", "/late/3", "/late/4"], AccessLogTests.ReadLines(settings.FullPath!).Skip(4).Select(l => l.Split(' ')[4]));
    }

    [Fact]
    public async Task AFailureOnTheWriterThread_IsLogged_AndTheWriterGoesOn()
    {
        // On a thread of its own an exception would end the process: here a throwing Flushed handler stands in for a bug.
        var settings = new AccessLogModel(true, AccessLogFormat.W3C, Path.Combine(_folder.Path, "bug.log"), 1 << 20, 1, 100, false);
        var logger = new WarningCollector();
        await using var writer = new AccessLogWriter(TimeProvider.System, logger);
        var thrown = 0;
        writer.Flushed += () =>
        {
            if (Interlocked.Exchange(ref thrown, 1) == 0)
            {
                throw new InvalidOperationException("a bug in the writer");
            }
        };
        writer.Apply(settings);
        writer.Enqueue(Entry(settings, "/first"));
        await AccessLogTests.WaitForWrittenAsync(writer, 1);
        writer.Enqueue(Entry(settings, "/second"));
        await AccessLogTests.WaitForWrittenAsync(writer, 2);

        Assert.Equal(1, thrown);
        Assert.Contains(654, logger.EventIds);
        Assert.Equal(["/first", "/second"], AccessLogTests.ReadLines(settings.FullPath!).Skip(4).Select(l => l.Split(' ')[4]));
    }

    [Fact]
    public async Task StuckWriter_DropsBeyondCapacity_WarnsOnceAMinute_ThenWritesWhatWasQueued()
    {
        // A FIFO with no reader blocks the writer in open(2), as a hung disk would.
        var fifo = Path.Combine(_folder.Path, "stuck.log");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var settings = new AccessLogModel(true, AccessLogFormat.W3C, fifo, 1 << 20, 1, QueueCapacity: 2, IncludeCookies: false);
        var logger = new WarningCollector();
        var writer = new AccessLogWriter(TimeProvider.System, logger);
        writer.Apply(settings);
        for (var i = 0; i < 10; i++)
        {
            writer.Enqueue(Entry(settings, $"/{i}"));
        }

        Assert.Equal(8, writer.Dropped);
        Assert.Equal([650], logger.EventIds);
        // The first drop warns at once; the other seven wait for the next warning, a minute later.
        Assert.StartsWith("The access log fell behind: 1 entr", logger.Messages[0], StringComparison.Ordinal);

        using var reader = new StreamReader(new FileStream(fifo, FileMode.Open, FileAccess.Read));
        await writer.DisposeAsync();
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        Assert.Equal(["/0", "/1"], lines.Skip(4).Select(l => l.Split(' ')[4]));
        Assert.Equal(2, writer.Written);
    }

    /// <summary>
    /// Requests still finishing while the gateway stops: producers enqueue before, during and after the disposal, and
    /// every entry is either written or dropped and counted; none is left in the queue unseen.
    /// </summary>
    [Fact]
    public async Task EntriesRacingDisposal_AreEachWrittenOrCountedAsDropped()
    {
        const int Producers = 4;
        const int AfterDisposal = 500;
        var settings = new AccessLogModel(true, AccessLogFormat.W3C, Path.Combine(_folder.Path, "race.log"), 1 << 26, 1, QueueCapacity: 1_000_000, IncludeCookies: false);
        var writer = new AccessLogWriter(TimeProvider.System, NullLogger<AccessLogWriter>.Instance);
        writer.Apply(settings);
        var disposed = 0;
        var enqueued = new int[Producers];
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(() =>
        {
            var after = 0;
            while (after < AfterDisposal)
            {
                writer.Enqueue(Entry(settings, $"/{p}/{enqueued[p]}"));
                enqueued[p]++;
                after += Volatile.Read(ref disposed);
                if (enqueued[p] % 50 == 0)
                {
                    // At a request rate the writer keeps up with (a batch ends when the queue is empty).
                    Thread.Sleep(1);
                }
            }
        })).ToArray();

        await AccessLogTests.WaitForWrittenAsync(writer, 1000);
        await writer.DisposeAsync();
        Volatile.Write(ref disposed, 1);
        await Task.WhenAll(producers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(writer.Dropped >= Producers * AfterDisposal, $"{writer.Dropped} dropped");
        Assert.Equal(enqueued.Sum(), writer.Written + writer.Dropped);
        Assert.Equal(0, writer.QueueLength);
        Assert.Equal(writer.Written, AccessLogTests.ReadLines(settings.FullPath!).Count(l => !l.StartsWith('#')));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("two words", "two+words")]
    [InlineData("", "-")]
    [InlineData(null, "-")]
    [InlineData("tab\there", "tab%09here")]
    [InlineData("line\u0001\u007fend", "line%01%7Fend")]
    [InlineData("caf\u00e9 \u2603", "caf\u00e9+\u2603")]
    [InlineData("a \U0001F600 b", "a+\U0001F600+b")]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", "Mozilla/5.0+(X11;+Linux+x86_64)+Chrome/131.0")]
    public void W3C_Field_IsEscapedPerTheSpec(string? value, string expected)
    {
        var settings = AccessLogModel.Disabled;
        var entry = Entry(settings, "/") with { UserAgent = value };
        var buffer = new ArrayBufferWriter<byte>();
        AccessLogFormatter.WriteW3C(buffer, entry);

        var fields = Encoding.UTF8.GetString(buffer.WrittenSpan).TrimEnd('\n').Split(' ');
        Assert.Equal(19, fields.Length);
        Assert.Equal(expected, fields[9]);
    }

    [Fact]
    public void W3C_Field_MatchesACharByCharReference_OnRandomText()
    {
        // Printable ASCII runs with spaces, controls, DEL, Latin-1, BMP symbols, surrogate pairs and lone halves.
        string[] pieces = ["a", "Z", "0", "/", ";", "(", " ", "\t", "\u0001", "\u007f", "\u00e9", "\u2603", "\U0001F600", "\ud800", "\udc00", "Mozilla"];
        var random = new Random(20261201);
        for (var i = 0; i < 2000; i++)
        {
            var text = new StringBuilder();
            for (var n = random.Next(1, 40); n > 0; n--)
            {
                text.Append(pieces[random.Next(pieces.Length)]);
            }

            var value = text.ToString();
            var entry = Entry(AccessLogModel.Disabled, "/") with { UserAgent = value };
            var buffer = new ArrayBufferWriter<byte>();
            AccessLogFormatter.WriteW3C(buffer, entry);

            Assert.Equal(ReferenceField(value), Encoding.UTF8.GetString(buffer.WrittenSpan).TrimEnd('\n').Split(' ')[9]);
        }

        static string ReferenceField(string value)
        {
            var field = new StringBuilder();
            foreach (var rune in value.EnumerateRunes())
            {
                field.Append(rune.Value switch
                {
                    ' ' => "+",
                    < 0x20 or 0x7F => $"%{rune.Value:X2}",
                    _ => rune.ToString(),
                });
            }

            return field.ToString();
        }
    }

    [Theory]
    [InlineData(0.4, "0")]
    [InlineData(1.5, "2")]
    [InlineData(1234.2, "1234")]
    public void W3C_TimeTaken_IsWholeMilliseconds(double milliseconds, string expected)
    {
        var entry = Entry(AccessLogModel.Disabled, "/") with { ElapsedTicks = (long)(milliseconds * System.Diagnostics.Stopwatch.Frequency / 1000) };
        var buffer = new ArrayBufferWriter<byte>();
        AccessLogFormatter.WriteW3C(buffer, entry);

        Assert.Equal(expected, Encoding.UTF8.GetString(buffer.WrittenSpan).TrimEnd('\n').Split(' ')[18]);
    }

    [Fact]
    public void W3C_DateAndTime_AreWhatTheFormatStringWrites()
    {
        // Seeded: the same instants every run, spread over the whole range DateTime holds (years 1 to 9999).
        var random = new Random(20261201);
        var instants = new List<DateTime> { DateTime.MinValue, DateTime.MaxValue, new(2026, 12, 31, 23, 59, 59, 999, DateTimeKind.Utc) };
        for (var i = 0; i < 2000; i++)
        {
            instants.Add(new DateTime(random.NextInt64(DateTime.MaxValue.Ticks), DateTimeKind.Utc));
        }

        foreach (var instant in instants)
        {
            var buffer = new ArrayBufferWriter<byte>();
            AccessLogFormatter.WriteW3C(buffer, Entry(AccessLogModel.Disabled, "/") with { Time = instant });
            var expected = instant.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(expected, Encoding.UTF8.GetString(buffer.WrittenSpan)[..expected.Length]);
        }
    }

    /// <summary>Leaves <paramref name="existing"/> in the file (a previous run's log), then writes <paramref name="count"/> entries and waits for them.</summary>
    private static async Task<AccessLogWriter> WriteAsync(string path, string existing, AccessLogFormat format, long maxFileBytes, int retainedFiles, int count, Func<int, string> stem)
    {
        File.WriteAllText(path, existing);
        var settings = new AccessLogModel(true, format, path, maxFileBytes, retainedFiles, QueueCapacity: 1000, IncludeCookies: false);
        var writer = new AccessLogWriter(TimeProvider.System, NullLogger<AccessLogWriter>.Instance);
        for (var i = 0; i < count; i++)
        {
            writer.Enqueue(Entry(settings, stem(i)));
        }

        await AccessLogTests.WaitForWrittenAsync(writer, count);
        return writer;
    }

    /// <summary>Keeps the warnings and errors a component logs, with their event ids.</summary>
    private sealed class WarningCollector : Microsoft.Extensions.Logging.ILogger<AccessLogWriter>
    {
        public List<int> EventIds { get; } = [];

        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lock (EventIds)
                {
                    EventIds.Add(eventId.Id);
                    Messages.Add(formatter(state, exception));
                }
            }
        }
    }

    internal static AccessLogEntry Entry(AccessLogModel settings, string stem) => new()
    {
        Settings = settings,
        Time = new DateTime(2026, 11, 30, 1, 2, 3, DateTimeKind.Utc),
        SiteName = "web",
        Method = "GET",
        UriStem = stem,
        UriQuery = "?a=1",
        ServerPort = 8080,
        ClientAddress = IPAddress.Parse("203.0.113.7"),
        UserAgent = "Mozilla/5.0 (X11; Linux x86_64)",
        Referer = "https://contoso.test/",
        Host = "web.contoso.test",
        Status = 200,
        SentBytes = 1234,
        ElapsedTicks = System.Diagnostics.Stopwatch.Frequency / 100,
    };
}

/// <summary>The observability section's validation: every error, with its JSON path.</summary>
public sealed class ObservabilityValidationTests
{
    [Fact]
    public void InvalidSection_ReportsEveryErrorWithItsPath()
    {
        var json = AccessLogTests.WithObservability(TestConfigs.Static([]), """
            { "accessLog": { "enabled": true, "maxFileSizeInMb": 0, "retainedFiles": -1, "queueCapacity": 0 },
              "tracing": { "enabled": true, "otlpEndpoint": "ftp://collector", "samplingRatio": 1.5, "serviceName": " " } }
            """);
        var bytes = Encoding.UTF8.GetBytes(json);
        var result = new AseGateway.Control.InMemoryConfigSource(bytes, "test", AppContext.BaseDirectory).Load(bytes);

        Assert.Equal(
            [
                "observability.accessLog.maxFileSizeInMb", "observability.accessLog.path", "observability.accessLog.queueCapacity",
                "observability.accessLog.retainedFiles", "observability.tracing.otlpEndpoint", "observability.tracing.samplingRatio",
                "observability.tracing.serviceName",
            ],
            result.Errors.Select(e => e.Path).Where(p => p.StartsWith("observability", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void UnknownFormat_IsAParseError()
    {
        var json = AccessLogTests.WithObservability(TestConfigs.Static([]), """{ "accessLog": { "format": "Apache" } }""");
        var bytes = Encoding.UTF8.GetBytes(json);
        var result = new AseGateway.Control.InMemoryConfigSource(bytes, "test", AppContext.BaseDirectory).Load(bytes);

        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.Path.Contains("format", StringComparison.Ordinal));
    }
}
