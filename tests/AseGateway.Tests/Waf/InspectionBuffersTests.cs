using AseGateway.Waf;

namespace AseGateway.Tests.Waf;

/// <summary>The WAF's inspection arrays: reused across as many concurrent inspections as HTTP/2 clients multiplex.</summary>
public sealed class InspectionBuffersTests
{
    [Fact]
    public void ArraysOfAHundredConcurrentInspections_AreReused_NotAllocatedAgain()
    {
        // A size no other test rents (the pool is the process's): 100 held at once, as 100 streams of one HTTP/2
        // connection would hold them, then returned and rented again.
        const int Length = 100 * 1024 + 17;
        var first = Enumerable.Range(0, 100).Select(_ => InspectionBuffers.Rent(Length)).ToList();
        Assert.All(first, array => Assert.True(array.Length >= Length));
        first.ForEach(InspectionBuffers.Return);

        var second = Enumerable.Range(0, 100).Select(_ => InspectionBuffers.Rent(Length)).ToList();
        var reused = second.Count(array => first.Any(previous => ReferenceEquals(previous, array)));
        second.ForEach(InspectionBuffers.Return);
        Assert.Equal(100, reused);
    }

    [Theory]
    [InlineData(16 * 1024)]
    [InlineData(1024 * 1024)]
    public void ArraysOfOtherSizes_ComeFromTheSharedPool_AndGoBackToIt(int length)
    {
        var array = InspectionBuffers.Rent(length);
        Assert.True(array.Length >= length);
        InspectionBuffers.Return(array);
        var again = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        System.Buffers.ArrayPool<byte>.Shared.Return(again);
        Assert.Same(array, again);
    }
}
