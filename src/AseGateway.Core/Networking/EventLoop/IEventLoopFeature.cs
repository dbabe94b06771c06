namespace AseGateway.Networking.EventLoop;

/// <summary>The loop a connection's socket is on (a connection feature of the event-loop transport).</summary>
internal interface IEventLoopFeature
{
    EventLoop Loop { get; }
}
