using System.Net;
using System.Net.Sockets;
using System.Text;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;
using static AseGateway.Tests.Http1Front.FrontWire;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// The gateway's HTTP/1.1 front on a real listener, driven over raw sockets: the plain requests it serves itself, the
/// ones it hands to Kestrel with their bytes intact (mid-connection too), and its keep-alive, close and shutdown rules.
/// </summary>
public sealed class Http1FrontTests(ITestOutputHelper output)
{
    private static readonly string Host = TestConfigs.AppHost;

    [Fact]
    public async Task PlainRequests_ServedByTheFront_OnOneKeptAliveConnection()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends);

        using var socket = await ConnectAsync(gateway);
        for (var i = 0; i < 3; i++)
        {
            var answer = await ExchangeAsync(socket, $"GET /n{i}?q={i} HTTP/1.1\r\nHost: {Host}\r\nX-Round: {i}\r\n\r\n", responses: 1);
            Assert.Equal([200], answer.Statuses);
            Assert.Contains("\r\nDate: ", answer.Text, StringComparison.Ordinal);
            Assert.Equal(backends.List[0].Name, answer.Body);
        }

        var last = await ExchangeAsync(socket, $"GET / HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n", responses: 1);
        Assert.Equal([200], last.Statuses);
        Assert.Contains("\r\nConnection: close\r\n", last.Text, StringComparison.Ordinal);
        Assert.True(await ClosedAsync(socket), "the connection stayed open after Connection: close");
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.Served == 4);
        Assert.Equal(0, gateway.Server.Http1FrontCounts!.HandedOff);
        Assert.Equal("0", backends.List[0].ReceivedHeaders.First()["X-Round"]);
    }

    [Fact]
    public async Task RepeatedName_AfterHeadsOfOtherShapes_IsOneFieldWithBothValues_AsTheWafReadsIt()
    {
        await using var backends = await Backends.StartAsync(1);
        const string BlockEvilBot = """
            "wafPolicies": [ { "name": "p", "policySettings": { "mode": "Prevention" }, "customRules": [
              { "name": "blockEvilBot", "priority": 1, "ruleType": "MatchRule", "action": "Block",
                "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders", "selector": "User-Agent" } ],
                  "operator": "Contains", "matchValues": [ "evilbot" ], "transforms": [ "Lowercase" ] } ] } ] } ],
            "defaultWafPolicy": "p", "workerPools":
            """;
        await using var gateway = await StartAsync(backends, TestConfigs.Static(backends.List).Replace("\"workerPools\":", BlockEvilBot));

        // The front keeps the strings of a connection's earlier heads by position and reuses them; whatever the shape of
        // the heads before, a repeated name is one field with both values where the stages look it up (a second
        // User-Agent kept as a field of its own, behind the first one a lookup finds, would pass the WAF unseen).
        using var socket = await ConnectAsync(gateway);
        (string Head, int Status)[] exchanges =
        [
            ($"GET /a HTTP/1.1\r\nHost: {Host}\r\nX-A: 1\r\nX-B: 1\r\nUser-Agent: ok\r\n\r\n", 200),
            ($"GET /b HTTP/1.1\r\nUser-Agent: ok\r\nHost: {Host}\r\n\r\n", 200),
            ($"GET /c HTTP/1.1\r\nUser-Agent: ok\r\nHost: {Host}\r\nX-B: 2\r\nUser-Agent: EvilBot\r\n\r\n", 403),
            ($"GET /d HTTP/1.1\r\nUser-Agent: ok\r\nHost: {Host}\r\nX-B: 2\r\nUser-Agent: EvilBot\r\n\r\n", 403),
            // The names of the head before, all distinct, are taken as distinct again: a repeat after them still counts.
            ($"GET /f HTTP/1.1\r\nHost: {Host}\r\nUser-Agent: ok\r\nX-B: 1\r\n\r\n", 200),
            ($"GET /g HTTP/1.1\r\nHost: {Host}\r\nUser-Agent: ok\r\nX-B: 1\r\n\r\n", 200),
            ($"GET /h HTTP/1.1\r\nHost: {Host}\r\nUser-Agent: ok\r\nX-B: 1\r\nUser-Agent: EvilBot\r\n\r\n", 403),
            ($"GET /i HTTP/1.1\r\nHost: {Host}\r\nUser-Agent: ok\r\nX-B: 1\r\n\r\n", 200),
            ($"GET /j HTTP/1.1\r\nHost: {Host}\r\nUser-Agent: ok\r\nX-B: 1\r\n\r\n", 200),
            ($"GET /k HTTP/1.1\r\nHost: {Host}\r\nUser-Agent: ok\r\nuser-agent: EvilBot\r\n\r\n", 403),
            ($"GET /e HTTP/1.1\r\nUser-Agent: ok\r\nHost: {Host}\r\nX-B: 2\r\nX-C: 3\r\nConnection: close\r\n\r\n", 200),
        ];
        foreach (var (head, status) in exchanges)
        {
            Assert.Equal([status], (await ExchangeAsync(socket, head, responses: 1)).Statuses);
        }

        // The front counts a connection's requests when it ends: the last head closes it.
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.Served == exchanges.Length);
        Assert.Equal(7, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task SameFields_UnderOtherRequestLines_EachRequestForwardedWithItsOwnTargetAndTheFields()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends);

        // A kept-alive client's usual heads: the same field lines under changing request lines, whose fields the front
        // takes from the head before instead of parsing them again; then one value changes, and the next head
        // repeats the changed one.
        using var socket = await ConnectAsync(gateway);
        var fields = $"Host: {Host}\r\nUser-Agent: Mozilla/5.0 (X11)\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: session=abc; theme=dark\r\n";
        (string Line, string Cookie)[] requests =
        [
            ("GET / HTTP/1.1", "session=abc; theme=dark"),
            ("GET /products/list?page=2&sort=price HTTP/1.1", "session=abc; theme=dark"),
            ("GET /a HTTP/1.1", "session=abc; theme=dark"),
            ("GET /b HTTP/1.1", "session=xyz; theme=dark"),
            ("GET /c?d=1 HTTP/1.1", "session=xyz; theme=dark"),
        ];
        foreach (var (line, cookie) in requests)
        {
            var head = $"{line}\r\n{fields.Replace("session=abc; theme=dark", cookie, StringComparison.Ordinal)}\r\n";
            Assert.Equal([200], (await ExchangeAsync(socket, head, responses: 1)).Statuses);
        }

        var received = backends.List[0].ReceivedHeaders.ToArray();
        Assert.Equal(requests.Length, received.Length);
        for (var i = 0; i < requests.Length; i++)
        {
            Assert.Equal(requests[i].Line.Split(' ')[1], received[i]["X-Original-URL"]);
            Assert.Equal(requests[i].Cookie, received[i]["Cookie"]);
            Assert.Equal("Mozilla/5.0 (X11)", received[i]["User-Agent"]);
            Assert.Equal("en-US,en;q=0.9", received[i]["Accept-Language"]);
        }

        Assert.Equal(0, gateway.Server.Http1FrontCounts!.HandedOff);
    }

    [Fact]
    public async Task Pipelined_PlainThenChunkedBodyThenPlain_KestrelTakesOverAtTheBody_AllAnsweredInOrder()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends);

        using var socket = await ConnectAsync(gateway);
        var answer = await ExchangeAsync(
            socket,
            $"GET /first HTTP/1.1\r\nHost: {Host}\r\n\r\n"
            + $"POST /second HTTP/1.1\r\nHost: {Host}\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n"
            + $"GET /third HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n",
            responses: 3);

        Assert.Equal([200, 200, 200], answer.Statuses);
        Assert.True(await ClosedAsync(socket));
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.HandedOff == 1);
        Assert.Equal(1, gateway.Server.Http1FrontCounts!.Served);
        Assert.Equal(3, backends.List[0].RequestCount);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: {host}\n\n", "bare LF line ends")]
    [InlineData("GET / HTTP/1.1\r\nHost: {host}\r\nX-Thing : 1\r\n\r\n", "space before a colon")]
    [InlineData("GET / HTTP/1.1\r\nHost: {host}\r\nHost: other.test\r\n\r\n", "two Hosts")]
    [InlineData("GET / HTTP/1.1\r\nHost: {host}\r\nX-Thing: a\u000bb\r\n\r\n", "control character in a value")]
    [InlineData("GET / HTTP/1.1\r\nHost: {host}\r\nX-Thing: a\r\r\n", "a bare CR, the head not yet ended")] // refused at once, not timed out
    public async Task Malformed_AfterAServedRequest_KestrelRefusesIt(string raw, string what)
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends);

        using var socket = await ConnectAsync(gateway);
        var answer = await ExchangeAsync(socket, $"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n" + raw.Replace("{host}", Host, StringComparison.Ordinal), responses: 2);

        Assert.True(answer.Statuses.SequenceEqual([200, 400]), $"{what}: [{string.Join(", ", answer.Statuses)}]");
        Assert.True(await ClosedAsync(socket), $"{what}: the connection stayed open");
        Assert.Equal(1, backends.List[0].RequestCount);
    }

    [Fact]
    public async Task HeadInPieces_IsServedOnceWhole()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends);

        using var socket = await ConnectAsync(gateway);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /split HTTP/1.1\r\nHo"));
        await Task.Yield();
        await socket.SendAsync(Encoding.ASCII.GetBytes($"st: {Host}\r\n"));
        var answer = await ExchangeAsync(socket, "Connection: close\r\n\r\n", responses: 1);

        Assert.Equal([200], answer.Statuses);
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.Served == 1);
        Assert.Equal(0, gateway.Server.Http1FrontCounts!.HandedOff);
    }

    [Fact]
    public async Task Head_AnswerWithoutBody_ConnectionGoesOn()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends);

        using var socket = await ConnectAsync(gateway);
        var head = await ExchangeAsync(socket, $"HEAD / HTTP/1.1\r\nHost: {Host}\r\n\r\n", responses: 1, headRequest: true);
        var get = await ExchangeAsync(socket, $"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n", responses: 1);

        Assert.Equal([200], head.Statuses);
        Assert.EndsWith("\r\n\r\n", head.Text, StringComparison.Ordinal);
        Assert.Equal([200], get.Statuses);
        Assert.Equal(backends.List[0].Name, get.Body);
    }

    [Fact]
    public async Task AnswerWrittenByTheGateway_UnknownHost_IsFramedAndTheConnectionGoesOn()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends);

        using var socket = await ConnectAsync(gateway);
        var unknown = await ExchangeAsync(socket, "GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n", responses: 1);
        var known = await ExchangeAsync(socket, $"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n", responses: 1);

        Assert.Equal([404], unknown.Statuses);
        Assert.Contains("nobody.test", unknown.Text, StringComparison.Ordinal);
        Assert.Equal([200], known.Statuses);
    }

    [Fact]
    public async Task IdleConnection_ClosedAfterTheKeepAliveTime()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends, TestConfigs.Static(backends.List).Replace(
            "\"trustedForwarders\"", "\"limits\": { \"keepAliveTimeoutSeconds\": 1 }, \"trustedForwarders\"", StringComparison.Ordinal));

        using var socket = await ConnectAsync(gateway);
        Assert.Equal([200], (await ExchangeAsync(socket, $"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n", responses: 1)).Statuses);

        Assert.True(await ClosedAsync(socket, TimeSpan.FromSeconds(10)), "an idle connection outlived its keep-alive time");
    }

    [Fact]
    public async Task Shutdown_ClosesIdleConnections_WithoutWaitingForThem()
    {
        await using var backends = await Backends.StartAsync(1);
        var gateway = await StartAsync(backends);
        using var socket = await ConnectAsync(gateway);
        Assert.Equal([200], (await ExchangeAsync(socket, $"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n", responses: 1)).Statuses);

        // The host's shutdown timeout is 30 s: an idle connection the front kept would hold the stop that long.
        var stop = gateway.DisposeAsync().AsTask();
        Assert.Same(stop, await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.True(await ClosedAsync(socket));
    }

    [Fact]
    public async Task Off_KestrelServesEveryRequest()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static(backends.List), output, http1Front: false);

        using var socket = await ConnectAsync(gateway);
        var answer = await ExchangeAsync(socket, $"GET / HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n", responses: 1);

        Assert.Equal([200], answer.Statuses);
        Assert.Null(gateway.Server.Http1FrontCounts);
    }

    private async Task<TestGateway> StartAsync(Backends backends, string? json = null) =>
        await TestGateway.StartAsync(json ?? TestConfigs.Static(backends.List), output, http1Front: true);
}
