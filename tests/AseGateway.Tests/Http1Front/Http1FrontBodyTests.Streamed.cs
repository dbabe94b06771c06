using System.Text;
using AseGateway.Http1Front;
using static AseGateway.Tests.Http1Front.FrontWire;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// Sized bodies longer than the front reads whole: the request starts with its head and the body goes on to the worker
/// as it arrives, on the front, under Kestrel's rules — the listener's size limit, the minimum data rate, a body left
/// unread drained after the answer, and a client that closes early.
/// </summary>
public sealed partial class Http1FrontBodyTests
{
    [Fact]
    public async Task SizedBodiesLongerThanTheFrontReadsWhole_Streamed_EachForwardedWhole_OnOneConnection()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);

        // Just over what the front reads whole, a mebibyte, and three: more than the transport buffers (1 MiB), so
        // the client's sending waits on the worker's reading.
        string[] bodies = ["small", Body(RequestHead.MaxBody + 1, seed: 11), Body(1024 * 1024, seed: 12), Body(3 * 1024 * 1024, seed: 13), "after"];
        foreach (var body in bodies)
        {
            var answer = await ExchangeAsync(socket, Post(body), responses: 1);
            Assert.Equal([200], answer.Statuses);
            Assert.Equal(Sha256(body), answer.Body);
        }

        Assert.Equal(bodies.Length, _worker.RequestCount);
        await AssertAllServedByTheFrontAsync(gateway, socket, bodies.Length);
    }

    [Fact]
    public async Task StreamedBody_ReachesTheWorkerBeforeItHasAllArrived_AndIsForwardedWhole()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        var request = Post(Body(200_000, seed: 14));
        var bodyStart = request.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;

        // The head and 1,000 bytes: the worker has the request; then most of the rest, a pause, and the end.
        await socket.SendAsync(Encoding.ASCII.GetBytes(request[..(bodyStart + 1000)]));
        await WaitForAsync(() => _worker.RequestCount == 1);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request[(bodyStart + 1000)..(bodyStart + 150_000)]));
        await Task.Delay(100);
        var answer = await ExchangeAsync(socket, request[(bodyStart + 150_000)..], responses: 1);

        Assert.Equal([200], answer.Statuses);
        Assert.Equal(Sha256(request[bodyStart..]), answer.Body);
        await AssertAllServedByTheFrontAsync(gateway, socket, 1);
    }

    [Fact]
    public async Task StreamedBody_LeftUnread_IsDrainedAfterTheAnswer_TheNextRequestFollowsIt()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        // The unknown host's 404 reads no body, and is answered before the body is all sent; bytes in it that would
        // parse as requests are passed over with the rest.
        var inner = $"GET /inner HTTP/1.1\r\nHost: {Host}\r\n\r\n";
        var body = new StringBuilder().Insert(0, inner, 300_000 / inner.Length).ToString();
        var head = $"POST / HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: {body.Length}\r\n\r\n";

        var unknown = await ExchangeAsync(socket, head + body[..100_000], responses: 1);
        var known = await ExchangeAsync(socket, body[100_000..] + Post("next"), responses: 1);

        Assert.Equal([404], unknown.Statuses);
        Assert.Equal([200], known.Statuses);
        Assert.Equal(Sha256("next"), known.Body);
        Assert.Equal(1, _worker.RequestCount);
        await AssertAllServedByTheFrontAsync(gateway, socket, 2);
    }

    [Fact]
    public async Task StreamedBody_LeftUnread_ThatStopsArriving_ClosesTheConnection_AfterTheDrainTimeout()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);

        var unknown = await ExchangeAsync(socket, $"POST / HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: 1000000\r\n\r\n{Body(1000, seed: 18)}", responses: 1);
        var answered = DateTime.UtcNow;

        Assert.Equal([404], unknown.Statuses);
        Assert.True(await ClosedAsync(socket, TimeSpan.FromSeconds(15)), "an unread body that stopped arriving kept its connection open");
        var waited = DateTime.UtcNow - answered;
        Assert.True(waited >= FrontRequestBody.DrainTimeout - TimeSpan.FromSeconds(0.5), $"closed {waited.TotalSeconds:F1} s after the answer, before the drain timeout");
    }

    [Fact]
    public async Task StreamedBody_OverTheListenersLimit_IsKestrels_WhichRefusesItWith413()
    {
        await using var gateway = await StartAsync(maxBodyMb: 1);
        using var socket = await ConnectAsync(gateway);
        await ExchangeAsync(socket, Post("first"), responses: 1);

        var answer = await ExchangeAsync(socket, $"POST /upload HTTP/1.1\r\nHost: {Host}\r\nContent-Length: {(1024 * 1024) + 1}\r\n\r\n{Body(1000, seed: 15)}", responses: 1);

        Assert.Equal([413], answer.Statuses);
        Assert.Equal(1, _worker.RequestCount);
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.HandedOff == 1);
    }

    [Fact]
    public async Task StreamedBody_ThatStalls_IsAnsweredAndClosed_AfterTheGracePeriod_AsKestrelAloneDoes()
    {
        // 100 bytes of a million, then nothing: under the minimum rate once the 5 s grace period is over. The same
        // client against the gateway without the front gives what the front must give.
        var withFront = StallAsync(http1Front: true);
        var kestrelAlone = StallAsync(http1Front: false);
        var (frontStatuses, frontClosed, frontSeconds) = await withFront;
        var (kestrelStatuses, kestrelClosed, _) = await kestrelAlone;

        output.WriteLine($"Kestrel alone: [{string.Join(", ", kestrelStatuses)}]; the front: [{string.Join(", ", frontStatuses)}] after {frontSeconds:F1} s");
        Assert.Equal([408], kestrelStatuses);
        Assert.True(kestrelClosed, "Kestrel kept a stalled body's connection open");
        Assert.True(frontClosed, "the front kept a stalled body's connection open");
        Assert.Equal(kestrelStatuses, frontStatuses);
        Assert.True(frontSeconds >= 4.5, $"closed after {frontSeconds:F1} s, before the grace period was over");
    }

    [Fact]
    public async Task StreamedBody_ClientClosesBeforeItEnds_TheRequestEnds_AndTheGatewayServesOn()
    {
        await using var gateway = await StartAsync();
        using (var socket = await ConnectAsync(gateway))
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: {Host}\r\nContent-Length: 1000000\r\n\r\n{Body(100_000, seed: 16)}"));
            await WaitForAsync(() => _worker.RequestCount == 1);
        }

        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.Served == 1);
        using var next = await ConnectAsync(gateway);
        var answer = await ExchangeAsync(next, Post("next"), responses: 1);
        Assert.Equal([200], answer.Statuses);
        Assert.Equal(Sha256("next"), answer.Body);
    }

    private async Task<(List<int> Statuses, bool Closed, double Seconds)> StallAsync(bool http1Front)
    {
        await using var gateway = await StartAsync(headTimeoutSeconds: 60, http1Front: http1Front);
        using var socket = await ConnectAsync(gateway);
        var started = DateTime.UtcNow;
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: {Host}\r\nContent-Length: 1000000\r\n\r\n{Body(100, seed: 17)}"));

        var answer = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(20));
        return (answer?.Statuses ?? [], answer is not null, (DateTime.UtcNow - started).TotalSeconds);
    }
}
