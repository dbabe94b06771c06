using System.Collections.Concurrent;

namespace AseGateway.Instances;

/// <summary>Every live instance runtime (active, starting or draining) by its id, which is also its YARP destination id.</summary>
internal sealed class InstanceRegistry
{
    private readonly ConcurrentDictionary<string, InstanceRuntime> _instances = new(StringComparer.Ordinal);

    public InstanceState? Find(string id) => _instances.TryGetValue(id, out var runtime) ? runtime.State : null;

    public bool TryAdd(InstanceRuntime runtime) => _instances.TryAdd(runtime.Id, runtime);

    public bool Remove(InstanceRuntime runtime) => _instances.TryRemove(new KeyValuePair<string, InstanceRuntime>(runtime.Id, runtime));

    /// <summary>A point-in-time copy, ordered by key for stable output.</summary>
    public IReadOnlyList<InstanceRuntime> Snapshot()
    {
        var list = new List<InstanceRuntime>(_instances.Values);
        list.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return list;
    }
}
