using System.Diagnostics;
using System.Net;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// A well-behaved client from its own loopback address (127.0.0.3 by default, so per-client caps never mix it up with
/// the attacker): one GET every 100 ms on a kept-alive connection until stopped or the time limit, each latency
/// recorded. A request failing or taking over 5 s counts as the service being unavailable.
/// </summary>
public sealed class ServiceProbe : IAsyncDisposable
{
    private static readonly IPAddress DefaultSource = IPAddress.Parse("127.0.0.3");

    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;
    private readonly List<double> _latencies = [];
    private readonly List<string> _failures = [];

    private ServiceProbe(Uri url, string host, IPAddress source, TimeSpan maxDuration, Version version)
    {
        _stop = new CancellationTokenSource(maxDuration);
        _loop = Task.Run(() => RunAsync(url, host, source, version));
    }

    public int Answered
    {
        get
        {
            lock (_latencies)
            {
                return _latencies.Count;
            }
        }
    }

    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_latencies)
            {
                return [.. _failures];
            }
        }
    }

    /// <param name="version">HTTP/1.1 by default; 2.0 speaks HTTP/2 with prior knowledge to an h2c listener.</param>
    public static ServiceProbe Start(Uri url, string host, IPAddress? source = null, TimeSpan? maxDuration = null, Version? version = null) =>
        new(url, host, source ?? DefaultSource, maxDuration ?? TimeSpan.FromSeconds(120), version ?? HttpVersion.Version11);

    /// <summary>Waits for the first answer, so that the probe's connection is open before an attack starts.</summary>
    public async Task WaitForFirstAnswerAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (Answered == 0 && Failures.Count == 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }

        Assert.True(Answered > 0, $"the probe never got an answer: {string.Join("; ", Failures)}");
    }

    /// <summary>Percentile (0-100) of the answered requests' latencies, in milliseconds.</summary>
    public double Percentile(double percent)
    {
        lock (_latencies)
        {
            if (_latencies.Count == 0)
            {
                return double.NaN;
            }

            var sorted = _latencies.ToArray();
            Array.Sort(sorted);
            return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percent / 100 * sorted.Length) - 1)];
        }
    }

    /// <summary>"120/120 answered, p99 4 ms" (with the first failure when there is one).</summary>
    public string Summary()
    {
        var failures = Failures;
        var answered = Answered;
        var text = $"probe {answered}/{answered + failures.Count} answered, p99 {Percentile(99):0} ms";
        return failures.Count == 0 ? text : $"{text} (first failure: {failures[0]})";
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunAsync(Uri url, string host, IPAddress source, Version version)
    {
        using var client = LoopbackClient.From(source);
        client.Timeout = TimeSpan.FromSeconds(5);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        do
        {
            var watch = Stopwatch.StartNew();
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
                request.Headers.Host = host;
                using var response = await client.SendAsync(request);
                await response.Content.ReadAsByteArrayAsync();
                lock (_latencies)
                {
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        _latencies.Add(watch.Elapsed.TotalMilliseconds);
                    }
                    else
                    {
                        _failures.Add($"{(int)response.StatusCode} after {watch.Elapsed.TotalSeconds:0.0} s");
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                lock (_latencies)
                {
                    _failures.Add($"{ex.GetType().Name} after {watch.Elapsed.TotalSeconds:0.0} s: {ex.Message}");
                }
            }
        }
        while (await WaitAsync(timer));
    }

    private async Task<bool> WaitAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
