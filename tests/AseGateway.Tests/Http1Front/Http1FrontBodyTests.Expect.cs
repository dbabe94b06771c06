using System.Net.Sockets;
using System.Text;
using static AseGateway.Tests.Http1Front.FrontWire;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// <c>Expect: 100-continue</c> with a sized body, as curl sends it for large uploads: the request starts with its head,
/// the interim 100 goes out when the application waits for the body, none when the answer comes first, and a body sent
/// anyway after such an answer is passed over for the next request. Each case also runs without the front, where
/// Kestrel answers, and must read the same.
/// </summary>
public sealed partial class Http1FrontBodyTests
{
    [Theory]
    [InlineData(1000, true)]
    [InlineData(300_000, true)]
    [InlineData(1000, false)]
    [InlineData(300_000, false)]
    public async Task ExpectContinue_The100ComesWhenTheBodyIsWaitedFor_ThenTheBodyIsForwardedWhole(int length, bool front)
    {
        await using var gateway = await StartAsync(http1Front: front);
        using var socket = await ConnectAsync(gateway);
        var body = Body(length, seed: 21);

        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: {Host}\r\nExpect: 100-continue\r\nContent-Length: {length}\r\n\r\n"));
        Assert.Equal("HTTP/1.1 100 Continue", await ReadInterimHeadAsync(socket));
        var answer = await ExchangeAsync(socket, body, responses: 1);
        var next = await ExchangeAsync(socket, Post("next"), responses: 1);

        Assert.Equal([200], answer.Statuses);
        Assert.Equal(Sha256(body), answer.Body);
        Assert.Equal([200], next.Statuses);
        Assert.Equal(Sha256("next"), next.Body);
        if (front)
        {
            await AssertAllServedByTheFrontAsync(gateway, socket, 2);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ExpectContinue_AnsweredBeforeTheBody_No100_ABodySentAnywayIsPassedOver(bool front)
    {
        await using var gateway = await StartAsync(http1Front: front);
        using var socket = await ConnectAsync(gateway);
        var body = Body(2000, seed: 22);

        // The unknown host's 404 reads no body: no 100 before it, and the connection waits for the body the client may
        // still send (curl does, after a second without an answer), then serves the next request.
        var refused = await ExchangeAsync(socket, $"POST /upload HTTP/1.1\r\nHost: nobody.test\r\nExpect: 100-continue\r\nContent-Length: {body.Length}\r\n\r\n", responses: 1);
        var next = await ExchangeAsync(socket, body + Post("next"), responses: 1);

        Assert.Equal([404], refused.Statuses);
        Assert.StartsWith("HTTP/1.1 404 ", refused.Text, StringComparison.Ordinal);
        Assert.Equal([200], next.Statuses);
        Assert.Equal(Sha256("next"), next.Body);
        if (front)
        {
            await AssertAllServedByTheFrontAsync(gateway, socket, 2);
        }
    }

    [Fact]
    public async Task ExpectContinue_BodySentWithTheHead_No100()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);

        // A client that did not wait: the body is all here with the head, nothing waits for it, no 100 (as Kestrel).
        var answer = await ExchangeAsync(socket, $"POST /upload HTTP/1.1\r\nHost: {Host}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", responses: 1);

        Assert.Equal([200], answer.Statuses);
        Assert.StartsWith("HTTP/1.1 200 ", answer.Text, StringComparison.Ordinal);
        Assert.Equal(Sha256("hello"), answer.Body);
        await AssertAllServedByTheFrontAsync(gateway, socket, 1);
    }

    /// <summary>The status line of the head that arrives next, reading no further than its end.</summary>
    private static async Task<string> ReadInterimHeadAsync(Socket socket)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await socket.ReceiveAsync(one, SocketFlags.None, deadline.Token));
            head.Append((char)one[0]);
        }

        return head.ToString()[..head.ToString().IndexOf("\r\n", StringComparison.Ordinal)];
    }
}
