using AseGateway.Model;

namespace AseGateway.Instances;

/// <summary>
/// One running (or runnable) instance of an app. Implementations are the instance-provider seam: a local process,
/// a static worker, and later e.g. a Kubernetes pod.
/// </summary>
internal abstract class InstanceRuntime
{
    private static long _nextSerial;

    protected InstanceRuntime(InstanceSpec spec, IInstanceObserver observer)
    {
        // A replacement for the same spec key runs beside the draining original, so each runtime has its own id.
        State = new InstanceState(spec, $"{spec.Key}#{Interlocked.Increment(ref _nextSerial)}");
        Observer = observer;
    }

    /// <summary>Unique for this runtime: <c>{app}/{plan}/{index}#{serial}</c>. Also its YARP destination id.</summary>
    public string Id => State.Id;

    public InstanceState State { get; }

    public InstanceSpec Spec => State.Spec;

    protected IInstanceObserver Observer { get; }

    /// <summary>Begins running the instance; returns at once (supervision continues in the background).</summary>
    public abstract void Start();

    /// <summary>Stops the instance for good: politely first, then by force after <paramref name="grace"/>.</summary>
    public abstract Task StopAsync(TimeSpan grace);
}

/// <summary>What an instance tells the component that owns it.</summary>
internal interface IInstanceObserver
{
    /// <summary>The address changed (a process got a new port): the proxy's destinations must be rebuilt.</summary>
    void AddressChanged(InstanceState instance);

    /// <summary>The instance may have started or stopped being able to take traffic.</summary>
    void AvailabilityChanged(InstanceState instance);
}

/// <summary>Creates the runtime for a spec: the place where instance providers plug in.</summary>
internal interface IInstanceRuntimeFactory
{
    InstanceRuntime Create(InstanceSpec spec, IInstanceObserver observer);
}
