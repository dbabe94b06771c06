using AseGateway.Model;
using Microsoft.Extensions.Logging;

namespace AseGateway.Instances;

/// <summary>The two providers this gateway ships: local processes and static workers.</summary>
internal sealed class InstanceRuntimeFactory : IInstanceRuntimeFactory, IDisposable
{
    private readonly ProcessSpawner _spawner = new();
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;

    public InstanceRuntimeFactory(TimeProvider time, ILoggerFactory loggers)
    {
        _time = time;
        _loggers = loggers;
    }

    public InstanceRuntime Create(InstanceSpec spec, IInstanceObserver observer) =>
        spec.Launch is not null
            ? new ProcessInstance(spec, observer, _spawner, _time, _loggers)
            : new StaticInstance(spec, observer);

    public void Dispose() => _spawner.Dispose();
}
