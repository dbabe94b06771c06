using System.Collections.Concurrent;
using System.Net;
using AseGateway.Model;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace AseGateway.Nsg;

/// <summary>Connections refused by NSG rules, counted per rule (kept across reloads).</summary>
internal sealed class NsgCounters
{
    private readonly ConcurrentDictionary<string, long> _denied = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public NsgCounters(TimeProvider time) => _time = time;

    /// <summary>The last denials, for the dashboard.</summary>
    public Metrics.RecentEvents<NsgDenial> Recent { get; } = new();

    public void CountDenied(string rule, IPEndPoint remote, int port)
    {
        _denied.AddOrUpdate(rule, 1, static (_, count) => count + 1);
        Recent.Add(new NsgDenial(_time.GetUtcNow(), rule, remote.Address, port));
    }

    public long Denied(string rule) => _denied.TryGetValue(rule, out var count) ? count : 0;

    /// <summary>Denied connections by rule, for the metrics exporter.</summary>
    public IEnumerable<KeyValuePair<string, long>> All => _denied;
}

/// <summary>One refused connection: when, by which rule, from where, to which port.</summary>
internal readonly record struct NsgDenial(DateTimeOffset At, string Rule, IPAddress Source, int Port);

/// <summary>
/// The NSG, applied where Azure applies it: to the connection, before TLS and before a single byte is read. A
/// denied connection is closed at once with nothing sent (a scanner learns no more than from a filtered port),
/// counted per rule and logged at Debug — a flood of refusals must not become a flood of log lines.
/// </summary>
internal sealed partial class NsgConnectionMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly SnapshotHolder _snapshots;
    private readonly NsgCounters _counters;
    private readonly ILogger _logger;

    public NsgConnectionMiddleware(ConnectionDelegate next, SnapshotHolder snapshots, NsgCounters counters, ILogger logger)
    {
        _next = next;
        _snapshots = snapshots;
        _counters = counters;
        _logger = logger;
    }

    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var nsg = _snapshots.Current.Nsg;
        if (nsg is null || connection.RemoteEndPoint is not IPEndPoint remote || connection.LocalEndPoint is not IPEndPoint local)
        {
            return _next(connection);
        }

        var index = nsg.Evaluate(remote.Address, local.Port);
        if (index >= 0 && nsg.Rules[index].Access == Configuration.SecurityRuleAccess.Allow)
        {
            return _next(connection);
        }

        var rule = index >= 0 ? nsg.Rules[index].Name : "(no rule)";
        _counters.CountDenied(rule, remote, local.Port);
        LogDenied(_logger, remote, local.Port, rule);
        connection.Abort(new ConnectionAbortedException($"Denied by NSG rule '{rule}'."));
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = Logging.EventIds.NsgDenied, Level = LogLevel.Debug, Message = "NSG rule '{Rule}' denied a connection from {Remote} to port {Port}.")]
    private static partial void LogDenied(ILogger logger, IPEndPoint remote, int port, string rule);
}

/// <summary>
/// Caps open connections per client address: one noisy client cannot take every connection slot. Refused
/// connections are closed at once, before TLS.
/// </summary>
internal sealed partial class ClientConnectionLimitMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly SnapshotHolder _snapshots;
    private readonly ConcurrentDictionary<IPAddress, StrongCount> _open;
    private readonly ILogger _logger;

    public ClientConnectionLimitMiddleware(ConnectionDelegate next, SnapshotHolder snapshots, ConcurrentDictionary<IPAddress, StrongCount> open, ILogger logger)
    {
        _next = next;
        _snapshots = snapshots;
        _open = open;
        _logger = logger;
    }

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        if (connection.RemoteEndPoint is not IPEndPoint remote)
        {
            await _next(connection);
            return;
        }

        var limit = _snapshots.Current.Limits.MaxConnectionsPerClient;
        var address = AseGateway.NetworkParsing.Normalize(remote.Address);
        StrongCount count;
        while (true)
        {
            count = _open.GetOrAdd(address, static _ => new StrongCount());
            Interlocked.Increment(ref count.Value);
            if (_open.TryGetValue(address, out var current) && ReferenceEquals(current, count))
            {
                break;
            }

            // The counter was retired by a connection that just closed: count on its successor instead.
            Interlocked.Decrement(ref count.Value);
        }

        if (Volatile.Read(ref count.Value) > limit)
        {
            Release(address, count);
            LogRefused(_logger, address, limit);
            connection.Abort(new ConnectionAbortedException("Too many connections from this client."));
            return;
        }

        try
        {
            await _next(connection);
        }
        finally
        {
            Release(address, count);
        }
    }

    private void Release(IPAddress address, StrongCount count)
    {
        if (Interlocked.Decrement(ref count.Value) == 0)
        {
            // Forget idle clients so the table stays as small as the set of connected clients.
            _open.TryRemove(new KeyValuePair<IPAddress, StrongCount>(address, count));
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.ClientConnectionLimit, Level = LogLevel.Debug, Message = "Refused a connection from {Client}: it already has {Limit} open.")]
    private static partial void LogRefused(ILogger logger, IPAddress client, int limit);
}

internal sealed class StrongCount
{
    public int Value;
}

/// <summary>Open connections per client address, shared by every listener.</summary>
internal sealed class ClientConnectionTable
{
    public ConcurrentDictionary<IPAddress, StrongCount> Open { get; } = new();
}
