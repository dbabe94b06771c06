using AseGateway.Model;

namespace AseGateway.Instances;

/// <summary>A worker the gateway does not run: a listed address that it only health-checks and balances to.</summary>
internal sealed class StaticInstance : InstanceRuntime
{
    public StaticInstance(InstanceSpec spec, IInstanceObserver observer)
        : base(spec, observer)
    {
        if (spec.StaticAddress is null)
        {
            throw new ArgumentException("A static instance needs an address.", nameof(spec));
        }
    }

    public override void Start()
    {
        // Starting until the first good health ping: a static worker that is down never gets a request.
        State.SetAddress(Spec.StaticAddress!);
        State.SetPhase(InstancePhase.Starting);
        Observer.AddressChanged(State);
    }

    public override Task StopAsync(TimeSpan grace)
    {
        State.SetPhase(InstancePhase.Stopped);
        Observer.AvailabilityChanged(State);
        return Task.CompletedTask;
    }
}
