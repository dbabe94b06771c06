using System.Net;
using AseGateway.Forwarding;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Tests.Forwarding;

public sealed class ForwardedForParserTests
{
    private static readonly IpPrefixSet Trusted = IpPrefixSet.Parse(["10.0.1.0/24", "2001:db8::/32"]);

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("203.0.113.7, 10.0.1.5", "203.0.113.7")]
    [InlineData("6.6.6.6, 203.0.113.7, 10.0.1.5, 10.0.1.6", "203.0.113.7")]
    [InlineData("203.0.113.7:4711, 10.0.1.5", "203.0.113.7")]
    [InlineData("[2001:db9::1]:443, 2001:db8::5", "2001:db9::1")]
    [InlineData("::ffff:198.51.100.2", "198.51.100.2")]
    [InlineData("10.0.1.9, 10.0.1.5", "10.0.1.9")]
    [InlineData("garbage, 10.0.1.5", "10.0.1.5")]
    public void FindClient_Chain_ReturnsRightmostUntrusted(string chain, string expected)
    {
        Assert.Equal(IPAddress.Parse(expected), ForwardedForParser.FindClient(new StringValues(chain), Trusted));
    }

    [Fact]
    public void FindClient_SeveralHeaderLines_ReadsThemAsOneChain()
    {
        var lines = new StringValues(["6.6.6.6, 203.0.113.7", "10.0.1.5"]);

        Assert.Equal(IPAddress.Parse("203.0.113.7"), ForwardedForParser.FindClient(lines, Trusted));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" , ")]
    [InlineData("not-an-address")]
    public void FindClient_NoUsableAddress_ReturnsNull(string chain)
    {
        Assert.Null(ForwardedForParser.FindClient(new StringValues(chain), Trusted));
    }
}
