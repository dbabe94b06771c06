using System.Net;
using AseGateway.Forwarding;
using AseGateway.Http1Front;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Tests.Forwarding;

/// <summary>
/// The header sanity stage refuses names that are not tokens and values with control characters, and notes whether
/// every field has one ASCII value; for a head the front parsed and nobody changed since, it trusts the front's parse.
/// </summary>
public sealed class HeaderSanityMiddlewareTests
{
    [Fact]
    public async Task AFrontParsedHead_PassesUnwalked_AndARepeatedNameIsNotSingle()
    {
        var headers = new FrontHeaders();
        headers.ClearForParsedHead();
        headers.AppendField("Host", "a.test");
        Assert.True((await Run(headers)).SingleAscii);

        headers.AppendField("Cookie", "a=1");
        headers.AppendField("cookie", "b=2");
        var (status, singleAscii) = await Run(headers);
        Assert.Equal(StatusCodes.Status200OK, status);
        Assert.False(singleAscii);
    }

    [Fact]
    public async Task AFieldSetAfterTheParse_IsCheckedAgain()
    {
        var headers = new FrontHeaders();
        headers.ClearForParsedHead();
        headers.AppendField("Host", "a.test");
        headers["X-Added"] = "bad\u0001value";
        Assert.False(headers.OnlyParsedFields);
        Assert.Equal(StatusCodes.Status400BadRequest, (await Run(headers)).Status);
    }

    [Fact]
    public async Task ARemovalAfterTheParse_KeepsTheParseTrusted()
    {
        var headers = new FrontHeaders();
        headers.ClearForParsedHead();
        headers.AppendField("Host", "a.test");
        headers.AppendField("Range", "bytes=0-1");
        headers.Remove("Range");
        Assert.True(headers.OnlyParsedFields);
        Assert.Equal((StatusCodes.Status200OK, true), await Run(headers));
    }

    [Theory]
    [InlineData("Bad Name", "x")]
    [InlineData("X-Control", "a\u0007b")]
    public async Task OtherHeaders_AreWalked_AndRefused(string name, string value)
    {
        var headers = new HeaderDictionary { ["Host"] = "a.test", [name] = value };
        Assert.Equal(StatusCodes.Status400BadRequest, (await Run(headers)).Status);
    }

    [Fact]
    public async Task OtherHeaders_WithANonAsciiValue_PassButAreNotSingleAscii()
    {
        var headers = new HeaderDictionary { ["Host"] = "a.test", ["X-Name"] = "caf\u00e9" };
        Assert.Equal((StatusCodes.Status200OK, false), await Run(headers));
    }

    private static async Task<(int Status, bool? SingleAscii)> Run(IHeaderDictionary headers)
    {
        var context = new DefaultHttpContext();
        context.Features.Get<IHttpRequestFeature>()!.Headers = headers;
        context.Response.Body = new MemoryStream();
        var gateway = new GatewayRequestFeature(null!, IPAddress.Loopback, peerIsTrustedForwarder: false, IPAddress.Loopback, 50000);
        context.Features.Set(gateway);
        var reached = false;
        var middleware = new HeaderSanityMiddleware(_ =>
        {
            reached = true;
            return Task.CompletedTask;
        }, NullLogger<HeaderSanityMiddleware>.Instance);
        await middleware.InvokeAsync(context);
        Assert.Equal(reached, context.Response.StatusCode == StatusCodes.Status200OK);
        return (context.Response.StatusCode, gateway.HeadersAreSingleAscii);
    }
}
