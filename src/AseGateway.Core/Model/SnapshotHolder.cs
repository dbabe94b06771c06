namespace AseGateway.Model;

/// <summary>Holds the current snapshot. Readers take <see cref="Current"/> once per request; writers swap it whole.</summary>
internal sealed class SnapshotHolder
{
    private GatewaySnapshot? _current;

    public GatewaySnapshot Current => Volatile.Read(ref _current) ?? throw new InvalidOperationException("No configuration has been applied yet.");

    public bool HasSnapshot => Volatile.Read(ref _current) is not null;

    /// <returns>The snapshot it replaced, if any.</returns>
    public GatewaySnapshot? Swap(GatewaySnapshot next) => Interlocked.Exchange(ref _current, next);
}
