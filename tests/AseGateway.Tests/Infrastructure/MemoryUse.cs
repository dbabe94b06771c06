namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// Memory of this test process, where the gateway runs in-process: resident set size (VmRSS from /proc/self/status,
/// what the kernel charges, including native buffers and sockets) and the managed heap after a full, compacting,
/// blocking collection (what is still reachable). A peak sampler catches transient growth that a before/after
/// comparison would miss. The reliability cases run in <see cref="SerialReliabilityCollection"/> so that no other
/// test's allocations land in the figures.
/// </summary>
public sealed class MemoryUse : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;
    private long _peakRss;

    private MemoryUse()
    {
        BaselineManaged = ManagedAfterFullCollection();
        BaselineRss = Rss();
        _peakRss = BaselineRss;
        _sampler = Task.Run(SampleAsync);
    }

    public long BaselineRss { get; }

    public long BaselineManaged { get; }

    public long PeakRssGrowth => Volatile.Read(ref _peakRss) - BaselineRss;

    /// <summary>Takes the baseline (after a full collection) and samples RSS every 100 ms until disposed.</summary>
    public static MemoryUse Watch() => new();

    /// <summary>Managed heap now, after a full collection, minus the baseline.</summary>
    public long ManagedGrowth() => ManagedAfterFullCollection() - BaselineManaged;

    public static long Rss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                // "VmRSS:	  123456 kB"
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("/proc/self/status has no VmRSS line");
    }

    public static long ManagedAfterFullCollection()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    public static string Mb(long bytes) => $"{(bytes < 0 ? "-" : "+")}{Math.Abs(bytes) / (1024.0 * 1024.0):0.0} MB";

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampler;
        _stop.Dispose();
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var rss = Rss();
                if (rss > Volatile.Read(ref _peakRss))
                {
                    Volatile.Write(ref _peakRss, rss);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>
/// Flood and slow-client cases load the machine and measure this process's memory: they run one at a time, after the
/// parallel tests (xunit runs a collection that disables parallelization on its own).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialReliabilityCollection
{
    public const string Name = "serial reliability cases";
}
