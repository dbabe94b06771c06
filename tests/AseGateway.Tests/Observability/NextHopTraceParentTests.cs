using AseGateway.Observability;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Tests.Observability;

/// <summary>The traceparent written for the worker without an activity: W3C trace context's parsing rules.</summary>
public sealed class NextHopTraceParentTests
{
    private const string TraceId = "0af7651916cd43dd8448eb211c80319c";

    [Theory]
    [InlineData($"00-{TraceId}-b7ad6b7169203331-01", "01")]
    [InlineData($"00-{TraceId}-b7ad6b7169203331-00", "00")]
    [InlineData($"00-{TraceId}-b7ad6b7169203331-03", "01")]
    [InlineData($"01-{TraceId}-b7ad6b7169203331-01-what-a-later-version-adds", "01")]
    public void AValidTraceparent_KeepsItsTraceAndSampledFlag_WithANewParent(string incoming, string flags)
    {
        var next = NextHopTraceParent.Create(incoming);

        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", next);
        Assert.Equal(TraceId, next[3..35]);
        Assert.NotEqual("b7ad6b7169203331", next[36..52]);
        Assert.NotEqual(new string('0', 16), next[36..52]);
        Assert.Equal(flags, next[53..]);
        Assert.NotEqual(next[36..52], NextHopTraceParent.Create(incoming)[36..52]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData($"00-{TraceId}-b7ad6b7169203331-01-extra")]
    [InlineData($"ff-{TraceId}-b7ad6b7169203331-01")]
    [InlineData($"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")]
    [InlineData($"00-00000000000000000000000000000000-b7ad6b7169203331-01")]
    [InlineData($"00-{TraceId}-0000000000000000-01")]
    [InlineData($"00-{TraceId}-b7ad6b7169203331-0g")]
    [InlineData($"00_{TraceId}-b7ad6b7169203331-01")]
    [InlineData("|abc.1.")]
    public void NoneOrAnInvalidOne_StartsANewTrace(string? incoming)
    {
        var next = NextHopTraceParent.Create(incoming);

        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", next);
        Assert.NotEqual(TraceId, next[3..35]);
        Assert.NotEqual(new string('0', 32), next[3..35]);
        Assert.NotEqual(next[3..35], NextHopTraceParent.Create(incoming)[3..35]);
    }

    [Fact]
    public void TheHeaderSentTwice_StartsANewTrace()
    {
        // Two values are not one traceparent to continue (joined, as a framework reads a repeated header, they do not parse).
        var next = NextHopTraceParent.Create(new StringValues([$"00-{TraceId}-b7ad6b7169203331-01", $"00-{TraceId}-b7ad6b7169203331-01"]));

        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", next);
        Assert.NotEqual(TraceId, next[3..35]);
    }

    [Fact]
    public void EveryByte_IsWrittenAsItsTwoLowercaseHexDigits()
    {
        var bytes = new byte[256];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)i;
        }

        var written = new char[512];
        NextHopTraceParent.WriteHex(bytes, written);

        Assert.Equal(Convert.ToHexStringLower(bytes), new string(written));
    }
}
