using System.Net;
using AseGateway.Waf;
using Microsoft.Extensions.Time.Testing;

namespace AseGateway.Tests.Waf;

/// <summary>Sliding-window rate limits over a fake clock.</summary>
public sealed class RateLimiterTests
{
    private static readonly IPAddress Alice = IPAddress.Parse("198.51.100.1");
    private static readonly IPAddress Bob = IPAddress.Parse("198.51.100.2");

    [Fact]
    public void Exceeds_OverThresholdWithinWindow_PerClient()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        var limiter = new RateLimiter(time);

        var alice = Enumerable.Range(0, 5).Select(_ => limiter.Exceeds("r", Alice, TimeSpan.FromMinutes(1), 3)).ToList();

        Assert.Equal([false, false, false, true, true], alice);
        Assert.False(limiter.Exceeds("r", Bob, TimeSpan.FromMinutes(1), 3));
    }

    [Fact]
    public void Window_Slides_PreviousWindowWeightedByOverlap()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        var limiter = new RateLimiter(time);
        for (var i = 0; i < 10; i++)
        {
            limiter.Exceeds("r", Alice, TimeSpan.FromMinutes(1), 10);
        }

        // 30 s into the next window half of the previous 10 still count: 5 + 1 is under 10, 5 + 6 is over.
        time.Advance(TimeSpan.FromSeconds(90));
        var results = Enumerable.Range(0, 6).Select(_ => limiter.Exceeds("r", Alice, TimeSpan.FromMinutes(1), 10)).ToList();
        Assert.Equal([false, false, false, false, false, true], results);

        // Two windows later nothing of the old counts remains.
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.False(limiter.Exceeds("r", Alice, TimeSpan.FromMinutes(1), 1));
    }

    [Fact]
    public void NoGrouping_OneSharedCounter()
    {
        var limiter = new RateLimiter(new FakeTimeProvider());

        Assert.False(limiter.Exceeds("shared", null, TimeSpan.FromMinutes(5), 2));
        Assert.False(limiter.Exceeds("shared", null, TimeSpan.FromMinutes(5), 2));
        Assert.True(limiter.Exceeds("shared", null, TimeSpan.FromMinutes(5), 2));
    }

    [Fact]
    public void IdleClients_AreForgotten_MemoryStaysBounded()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        var limiter = new RateLimiter(time);
        for (var i = 0; i < 1000; i++)
        {
            limiter.Exceeds("r", new IPAddress(BitConverter.GetBytes(0x0A000000 + i)), TimeSpan.FromMinutes(1), 100);
        }

        Assert.Equal(1000, limiter.Count);
        time.Advance(TimeSpan.FromMinutes(3));
        limiter.Exceeds("r", Bob, TimeSpan.FromMinutes(1), 100);

        Assert.Equal(1, limiter.Count);
    }
}
