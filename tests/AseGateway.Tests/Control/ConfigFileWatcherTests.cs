using System.Collections.Concurrent;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Tests.Control;

/// <summary>
/// The watcher on its own, with real files and inotify: which events in the configuration's folder ask for a reload.
/// Polling is off, so a reload can only come from an event.
/// </summary>
public sealed class ConfigFileWatcherTests
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(150);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task NeighbourWrittenFasterThanTheDebounce_DoesNotHoldBackAnEditOfTheConfiguration()
    {
        using var folder = new ConfigDirectory();
        folder.WriteInPlace("{}");
        using var watch = new WatchedConfiguration(folder.FilePath);
        using var neighbour = NeighbourWriter.Start(Path.Combine(folder.Path, "access.log"));
        await Task.Delay(Debounce * 3);

        folder.WriteInPlace("{ }");

        // Before, every write to access.log restarted the debounce: the reload waited until the writes stopped.
        var trigger = await watch.NextReload.WaitAsync(Timeout);
        Assert.Equal("file change", trigger);
        Assert.True(neighbour.Writes > 0);
        Assert.False(neighbour.Stopped);
    }

    [Fact]
    public async Task NeighbourWrites_AloneAskForNoReload()
    {
        using var folder = new ConfigDirectory();
        folder.WriteInPlace("{}");
        using var watch = new WatchedConfiguration(folder.FilePath);

        using (var neighbour = NeighbourWriter.Start(Path.Combine(folder.Path, "access.log")))
        {
            await Task.Delay(Debounce * 4);
            Assert.True(neighbour.Writes > 0);
        }

        File.Move(Path.Combine(folder.Path, "access.log"), Path.Combine(folder.Path, "access.log.1"));
        await Task.Delay(Debounce * 4);

        Assert.Empty(watch.Reloads);
    }

    [Fact]
    public async Task ConfigurationLinkedToAFileBesideIt_AnEditOfThatFileIsReloaded()
    {
        using var folder = new ConfigDirectory();
        var version = Path.Combine(folder.Path, "ase.v2.json");
        File.WriteAllText(version, "{}");
        File.CreateSymbolicLink(folder.FilePath, "ase.v2.json");
        using var watch = new WatchedConfiguration(folder.FilePath);

        File.WriteAllText(version, "{ }");

        Assert.Equal("file change", await watch.NextReload.WaitAsync(Timeout));
    }

    [Theory]
    [InlineData("in place")]
    [InlineData("by rename")]
    [InlineData("configmap")]
    public async Task ConfigurationWritten_IsReloaded(string how)
    {
        using var folder = new ConfigDirectory();
        Write(folder, how, "{}");
        using var watch = new WatchedConfiguration(folder.FilePath);

        Write(folder, how, "{ }");

        Assert.Equal("file change", await watch.NextReload.WaitAsync(Timeout));
    }

    private static void Write(ConfigDirectory folder, string how, string json)
    {
        switch (how)
        {
            case "in place":
                folder.WriteInPlace(json);
                break;
            case "by rename":
                folder.WriteByRename(json);
                break;
            default:
                folder.WriteConfigMapVersion(json);
                break;
        }
    }

    private sealed class WatchedConfiguration : IDisposable
    {
        private readonly ConfigFileWatcher _watcher;
        private readonly TaskCompletionSource<string> _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public WatchedConfiguration(string path)
        {
            _watcher = new ConfigFileWatcher(
                new FileConfigSource(path),
                trigger =>
                {
                    Reloads.Enqueue(trigger);
                    _next.TrySetResult(trigger);
                    return Task.CompletedTask;
                },
                Debounce,
                System.Threading.Timeout.InfiniteTimeSpan,
                TimeProvider.System,
                NullLogger<ConfigFileWatcher>.Instance);
        }

        public ConcurrentQueue<string> Reloads { get; } = new();

        public Task<string> NextReload => _next.Task;

        public void Dispose() => _watcher.Dispose();
    }

    /// <summary>Appends a line to a file every 20 ms — an access log's pace under load — until disposed.</summary>
    private sealed class NeighbourWriter : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _writes;

        private NeighbourWriter(string path) => _loop = Task.Run(() => WriteAsync(path));

        public int Writes => Volatile.Read(ref _writes);

        public bool Stopped => _loop.IsCompleted;

        public static NeighbourWriter Start(string path) => new(path);

        public void Dispose()
        {
            _stop.Cancel();
            _loop.GetAwaiter().GetResult();
            _stop.Dispose();
        }

        private async Task WriteAsync(string path)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    await File.AppendAllTextAsync(path, "GET / 200\n", _stop.Token);
                    Interlocked.Increment(ref _writes);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
