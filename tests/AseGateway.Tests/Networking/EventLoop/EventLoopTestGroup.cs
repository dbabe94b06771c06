using AseGateway.Networking.EventLoop;

namespace AseGateway.Tests.Networking.EventLoop;

/// <summary>
/// Two real event loops for one test, as the tests of the loops' sockets, pool and upstream connections use them:
/// an exception a loop reports (one no caller could see) fails the test when it is disposed.
/// </summary>
internal sealed class EventLoopTestGroup : IDisposable
{
    private readonly List<Exception> _unexpected = [];

    public EventLoopTestGroup()
    {
        Assert.True(LinuxSockets.IsSupported, "the event loop runs on x86-64 Linux only: these tests need such a machine");
        Group = NewGroup();
    }

    public EventLoopGroup Group { get; }

    /// <summary>Another group whose loops report to the same list (the caller disposes it).</summary>
    public EventLoopGroup NewGroup() => new(2, e => { lock (_unexpected) { _unexpected.Add(e); } });

    public void Dispose()
    {
        Group.Dispose();
        lock (_unexpected)
        {
            Assert.Empty(_unexpected);
        }
    }
}
