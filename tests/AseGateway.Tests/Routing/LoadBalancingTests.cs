using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Routing;

public sealed class LoadBalancingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RoundRobin_SequentialRequests_CycleThroughEveryInstance()
    {
        await using var backends = await Backends.StartAsync(3);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, "RoundRobin"), output);

        var answers = new List<string>();
        for (var i = 0; i < 9; i++)
        {
            answers.Add(await gateway.GetBodyAsync(TestConfigs.AppHost));
        }

        // Each window of three consecutive answers names all three instances.
        for (var i = 0; i + 3 <= answers.Count; i += 3)
        {
            Assert.Equal(3, answers.Skip(i).Take(3).Distinct().Count());
        }
    }

    [Fact]
    public async Task FirstAlphabetical_SequentialRequests_AllGoToTheFirstInstance()
    {
        await using var backends = await Backends.StartAsync(3);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, "FirstAlphabetical"), output);

        for (var i = 0; i < 10; i++)
        {
            // Destination ids sort as web/web-plan/0, /1, /2: the first is backend b0.
            Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));
        }
    }

    [Theory]
    [InlineData("Random")]
    [InlineData("PowerOfTwoChoices")]
    public async Task RandomizedPolicies_ManyRequests_ReachEveryInstance(string policy)
    {
        await using var backends = await Backends.StartAsync(3);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, policy), output);

        for (var i = 0; i < 90; i++)
        {
            await gateway.GetBodyAsync(TestConfigs.AppHost);
        }

        // With 90 uniform picks over 3 instances, fewer than 10 for one instance has probability ~1e-6.
        Assert.All(backends.List, b => Assert.InRange(b.RequestCount, 10, 70));
    }

    [Fact]
    public async Task LeastRequests_OneInstanceBusy_NewRequestsAvoidIt()
    {
        await using var backends = await Backends.StartAsync(2);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List, "LeastRequests"), output);

        // The first request goes to either instance and stays in flight there.
        var slow = gateway.GetAsync(TestConfigs.AppHost, "/slow");
        var started = await Task.WhenAny(backends.List[0].SlowStarted.Task, backends.List[1].SlowStarted.Task).WaitAsync(TimeSpan.FromSeconds(10));
        var busy = started == backends.List[0].SlowStarted.Task ? backends.List[0] : backends.List[1];
        var idle = busy == backends.List[0] ? backends.List[1] : backends.List[0];

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(idle.Name, await gateway.GetBodyAsync(TestConfigs.AppHost));
        }

        busy.ReleaseSlow.SetResult();
        using var response = await slow;
        Assert.Equal(busy.Name, await response.Content.ReadAsStringAsync());
    }
}

/// <summary>A set of test backends named b0, b1, … disposed together.</summary>
internal sealed class Backends : IAsyncDisposable
{
    private Backends(List<TestBackend> list) => List = list;

    public List<TestBackend> List { get; }

    public static async Task<Backends> StartAsync(int count)
    {
        var list = new List<TestBackend>();
        for (var i = 0; i < count; i++)
        {
            list.Add(await TestBackend.StartAsync($"b{i}"));
        }

        return new Backends(list);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var backend in List)
        {
            await backend.DisposeAsync();
        }
    }
}
