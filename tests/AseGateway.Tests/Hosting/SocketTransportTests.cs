using AseGateway.Hosting;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Hosting;

public sealed class SocketTransportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task DataPlane_SchedulesSocketWorkOnTheThreadPoolWithoutIoQueues()
    {
        // IOQueueCount 0 is Kestrel's documented "schedule I/O directly on the thread pool"; inline scheduling stays
        // opt-in (the environment variable the runtime reads), so a test run without it must see it off.
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static([backend]), output);

        Assert.Equal(0, gateway.Server.SocketTransport.IOQueueCount);
        Assert.Equal(InlineIoScheduling.IsRequested(), gateway.Server.SocketTransport.UnsafePreferInlineScheduling);
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));
    }
}
