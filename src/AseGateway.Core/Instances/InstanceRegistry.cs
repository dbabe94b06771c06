using System.Collections.Concurrent;

namespace AseGateway.Instances;

/// <summary>Every live instance by its key (which is also its YARP destination id).</summary>
internal sealed class InstanceRegistry
{
    private readonly ConcurrentDictionary<string, InstanceRuntime> _instances = new(StringComparer.Ordinal);

    public InstanceState? Find(string key) => _instances.TryGetValue(key, out var runtime) ? runtime.State : null;

    public InstanceRuntime? FindRuntime(string key) => _instances.TryGetValue(key, out var runtime) ? runtime : null;

    public bool TryAdd(InstanceRuntime runtime) => _instances.TryAdd(runtime.Spec.Key, runtime);

    public bool Remove(InstanceRuntime runtime) => _instances.TryRemove(new KeyValuePair<string, InstanceRuntime>(runtime.Spec.Key, runtime));

    /// <summary>A point-in-time copy, ordered by key for stable output.</summary>
    public IReadOnlyList<InstanceRuntime> Snapshot()
    {
        var list = new List<InstanceRuntime>(_instances.Values);
        list.Sort(static (a, b) => string.CompareOrdinal(a.Spec.Key, b.Spec.Key));
        return list;
    }
}
