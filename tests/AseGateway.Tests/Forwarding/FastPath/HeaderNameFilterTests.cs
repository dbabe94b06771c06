using AseGateway.Forwarding.FastPath;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Tests.Forwarding.FastPath;

/// <summary>The filter never says "surely not" for a name of its set, in any case; it does for a browser's fields.</summary>
public sealed class HeaderNameFilterTests
{
    private static readonly string[] Set = [HeaderNames.Connection, "Keep-Alive", HeaderNames.Host, "X-Client-IP", HeaderNames.ContentLength, "traceparent"];

    private static readonly HeaderNameFilter Filter = new(Set);

    [Fact]
    public void EveryNameOfTheSet_MayBeContained_InAnyCase()
    {
        foreach (var name in Set)
        {
            Assert.True(Filter.MayContain(name), name);
            Assert.True(Filter.MayContain(name.ToUpperInvariant()), name);
            Assert.True(Filter.MayContain(name.ToLowerInvariant()), name);
        }
    }

    [Theory]
    [InlineData("User-Agent")]
    [InlineData("Accept")]
    [InlineData("Accept-Language")]
    [InlineData("Cookie")]
    [InlineData("Referer")]
    [InlineData("Sec-Fetch-Dest")]
    [InlineData("sec-ch-ua-platform")]
    public void NamesOfOtherLengthsOrFirstLetters_AreSurelyNotContained(string name) => Assert.False(Filter.MayContain(name));

    [Theory]
    [InlineData("")]
    [InlineData("\u0131f-Match")] // a non-ASCII first letter: ordinal case rules relate a few of those to ASCII ones
    public void EmptyNonAsciiAndVeryLongNames_AlwaysMayBe(string name)
    {
        Assert.True(Filter.MayContain(name));
        Assert.True(Filter.MayContain(new string('x', 64) + name));
    }

    [Fact]
    public void ANameSharingFirstLetterAndLength_MayBe_ForTheCallerToAskItsSet() =>
        Assert.True(Filter.MayContain("Hose")); // the first letter and length of Host
}
