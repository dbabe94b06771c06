using Microsoft.AspNetCore.Connections;

namespace AseGateway.Metrics;

/// <summary>
/// Per listener, after the NSG and the per-client cap: counts connections open now and, on HTTPS listeners, TLS
/// handshakes that failed (the connection ended before <see cref="TlsHandshakeMetricsMiddleware"/> saw it).
/// </summary>
internal sealed class ConnectionMetricsMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly GatewayMetrics _metrics;
    private readonly KeyValuePair<string, object?> _listener;
    private readonly bool _tls;

    public ConnectionMetricsMiddleware(ConnectionDelegate next, GatewayMetrics metrics, string listener, bool tls)
    {
        _next = next;
        _metrics = metrics;
        _listener = new(MetricLabels.Listener, listener);
        _tls = tls;
    }

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        _metrics.OpenConnections.Add(1, _listener);
        try
        {
            await _next(connection);
        }
        finally
        {
            _metrics.OpenConnections.Add(-1, _listener);
            if (_tls && connection.Features.Get<TlsHandshakeMetricsMiddleware.Completed>() is null)
            {
                _metrics.RecordTlsHandshake(_listener, ok: false);
            }
        }
    }
}

/// <summary>Runs after Kestrel's TLS stage, so only for connections whose handshake succeeded.</summary>
internal sealed class TlsHandshakeMetricsMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly GatewayMetrics _metrics;
    private readonly KeyValuePair<string, object?> _listener;

    public TlsHandshakeMetricsMiddleware(ConnectionDelegate next, GatewayMetrics metrics, string listener)
    {
        _next = next;
        _metrics = metrics;
        _listener = new(MetricLabels.Listener, listener);
    }

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        connection.Features.Set(Completed.Instance);
        _metrics.RecordTlsHandshake(_listener, ok: true);
        return _next(connection);
    }

    /// <summary>A marker: one shared instance, nothing allocated per connection.</summary>
    internal sealed class Completed
    {
        public static readonly Completed Instance = new();
    }
}
