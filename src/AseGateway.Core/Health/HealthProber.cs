using System.Net;
using System.Net.Sockets;
using AseGateway.Instances;

namespace AseGateway.Health;

/// <summary>
/// Pings an instance the way App Service's health check does: GET the app's health path with the app's host name,
/// healthy on 2xx, redirects not followed. Without a health path, a TCP connect is the check.
/// </summary>
internal sealed class HealthProber : IDisposable
{
    private readonly HttpMessageInvoker _client;
    private readonly TimeProvider _time;

    public HealthProber(TimeProvider time)
    {
        _time = time;
        _client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        });
    }

    public async Task<HealthProbeResult> ProbeAsync(InstanceState instance, CancellationToken cancellationToken)
    {
        var address = instance.Address;
        var spec = instance.Spec;
        if (address is null)
        {
            return new HealthProbeResult(_time.GetUtcNow(), false, null, "no address yet");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(spec.HealthCheck.Timeout);
        try
        {
            if (spec.HealthCheck.Path is null)
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(address.Host, address.Port, timeout.Token);
                return new HealthProbeResult(_time.GetUtcNow(), true, null, "TCP connect succeeded");
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(address, spec.HealthCheck.Path));
            request.Headers.Host = spec.HostName;
            request.Headers.UserAgent.ParseAdd("AseGateway-HealthCheck/1.0");
            using var response = await _client.SendAsync(request, timeout.Token);
            var status = (int)response.StatusCode;
            var healthy = status is >= 200 and <= 299;
            return new HealthProbeResult(_time.GetUtcNow(), healthy, status, $"{spec.HealthCheck.Path} answered {status}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthProbeResult(_time.GetUtcNow(), false, null, $"no answer within {spec.HealthCheck.Timeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or IOException)
        {
            return new HealthProbeResult(_time.GetUtcNow(), false, null, ex.Message);
        }
    }

    public void Dispose() => _client.Dispose();
}
