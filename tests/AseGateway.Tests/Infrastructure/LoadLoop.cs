using System.Net;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// A bounded closed-loop load: a few concurrent clients send requests until stopped, or until the time or request
/// limit is reached, whichever comes first. It records every failure (non-200 status or exception).
/// </summary>
public sealed class LoadLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task[] _clients;
    private readonly List<string> _failures = [];
    private int _requests;

    private LoadLoop(Uri url, string host, int clients, TimeSpan maxDuration, int maxRequests)
    {
        _stop = new CancellationTokenSource(maxDuration);
        _clients = new Task[clients];
        for (var i = 0; i < clients; i++)
        {
            _clients[i] = Task.Run(() => RunClientAsync(url, host, maxRequests));
        }
    }

    public int Requests => Volatile.Read(ref _requests);

    public IReadOnlyList<string> Failures
    {
        get
        {
            lock (_failures)
            {
                return [.. _failures];
            }
        }
    }

    public static LoadLoop Start(Uri url, string host, int clients = 6, TimeSpan? maxDuration = null, int maxRequests = 200_000) =>
        new(url, host, clients, maxDuration ?? TimeSpan.FromSeconds(30), maxRequests);

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunClientAsync(Uri url, string host, int maxRequests)
    {
        using var client = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, UseCookies = false });
        while (!_stop.IsCancellationRequested && Interlocked.Increment(ref _requests) <= maxRequests)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.Host = host;
                using var response = await client.SendAsync(request, CancellationToken.None);
                await response.Content.ReadAsByteArrayAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Record($"{(int)response.StatusCode}");
                }
            }
            catch (HttpRequestException ex)
            {
                Record(ex.Message);
            }
        }
    }

    private void Record(string failure)
    {
        lock (_failures)
        {
            _failures.Add(failure);
        }
    }
}
