using System.Net.Sockets;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;
using static AseGateway.Tests.Http1Front.FrontWire;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// HTTP/1.0 requests on the front, as ApacheBench (<c>ab -k</c>) and other load generators send them: kept alive only
/// when the client asks, answered with <c>Connection: keep-alive</c> then, and a body of unknown length sent unframed
/// up to the close (no chunks for an HTTP/1.0 client). Each exchange is also sent to a gateway without the front, and
/// what the client can tell apart (status, fields, body, whether the connection closed) must be Kestrel's.
/// </summary>
public sealed class Http1FrontHttp10Tests(ITestOutputHelper output)
{
    private static readonly string Host = TestConfigs.AppHost;

    [Fact]
    public async Task KeepAlive_AsApacheBenchAsks_ServedByTheFront_OnOneConnection()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends, front: true);

        // Sized answers keep the connection: HEADs, and a body the worker gives a Content-Length.
        using var socket = await ConnectAsync(gateway);
        for (var i = 0; i < 3; i++)
        {
            var head = await ExchangeAsync(socket, $"HEAD /n{i} HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: {Host}\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n", responses: 1, headRequest: true);
            Assert.Equal([200], head.Statuses);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", head.Text, StringComparison.Ordinal);
            Assert.Contains("\r\nConnection: keep-alive\r\n", head.Text, StringComparison.Ordinal);
        }

        var large = await ExchangeAsync(socket, $"GET /large HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: {Host}\r\n\r\n", responses: 1);
        Assert.Equal([200], large.Statuses);
        Assert.Contains("\r\nConnection: keep-alive\r\n", large.Text, StringComparison.Ordinal);
        Assert.Contains($"\r\nContent-Length: {TestBackend.LargeResponseBytes}\r\n", large.Text, StringComparison.Ordinal);

        // The gateway's own 404 is written before its length is known: unframed, so the connection closes after it (as
        // Kestrel answers it, see AsKestrelAnswersThem).
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: nobody.test\r\n\r\n"));
        var unknown = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10));
        Assert.NotNull(unknown);
        Assert.StartsWith("HTTP/1.1 404 Not Found\r\n", unknown.Text, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close\r\n", unknown.Text, StringComparison.Ordinal);
        Assert.EndsWith("'nobody.test'.\n", unknown.Text, StringComparison.Ordinal);

        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.Served == 5);
        Assert.Equal(0, gateway.Server.Http1FrontCounts!.HandedOff);
    }

    [Fact]
    public async Task WorkerAnswerOfUnknownLength_SentUnframed_ThenTheConnectionCloses()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends, front: true);

        // The test worker streams its answer without a length: chunks to the gateway, none to an HTTP/1.0 client.
        using var socket = await ConnectAsync(gateway);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET /streamed HTTP/1.0\r\nConnection: keep-alive\r\nHost: {Host}\r\n\r\n"));
        var answer = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10));

        Assert.NotNull(answer);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", answer.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("Transfer-Encoding", answer.Text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nConnection: close\r\n", answer.Text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n" + backends.List[0].Name + "-end", answer.Text, StringComparison.Ordinal);
        Assert.Equal(1, gateway.Server.Http1FrontCounts!.Served);
    }

    [Fact]
    public async Task ChunkedHttp10Request_IsKestrels()
    {
        await using var backends = await Backends.StartAsync(1);
        await using var gateway = await StartAsync(backends, front: true);

        using var socket = await ConnectAsync(gateway);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"POST / HTTP/1.0\r\nHost: {Host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
        Assert.NotNull(await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10)));

        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.HandedOff == 1);
        Assert.Equal(0, gateway.Server.Http1FrontCounts!.Served);
    }

    /// <summary>Requests sent one after another on one connection, until it closes or all were answered.</summary>
    public static TheoryData<string, string[]> Exchanges => new()
    {
        { "no Connection field: closed after the answer", ["GET / HTTP/1.0\r\nHost: {host}\r\n\r\n"] },
        { "Connection: close", ["GET / HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"] },
        { "kept alive, sized answers, then no Connection field", ["HEAD / HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n", "GET / HTTP/1.0\r\nHost: nobody.test\r\nConnection: Keep-Alive\r\n\r\n", "HEAD /x HTTP/1.0\r\nHost: {host}\r\n\r\n"] },
        { "kept alive, an answer streamed without a length", ["HEAD / HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n", "GET /streamed HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n"] },
        { "a sized body", ["POST /b HTTP/1.0\r\nHost: nobody.test\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello", "POST /streamed HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"] },
        { "HTTP/1.1 after HTTP/1.0 on one connection", ["HEAD / HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n", "GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"] },
    };

    [Theory]
    [MemberData(nameof(Exchanges))]
    public async Task AsKestrelAnswersThem(string what, string[] requests)
    {
        await using var backends = await Backends.StartAsync(1);
        await using var front = await StartAsync(backends, front: true);
        await using var kestrel = await StartAsync(backends, front: false);

        var fromFront = await ConverseAsync(front, requests);
        var fromKestrel = await ConverseAsync(kestrel, requests);

        output.WriteLine($"front:\n{string.Join("\n", fromFront)}\nkestrel:\n{string.Join("\n", fromKestrel)}");
        Assert.True(fromKestrel.SequenceEqual(fromFront), what);
        Assert.Equal(0, front.Server.Http1FrontCounts!.HandedOff);
    }

    /// <summary>
    /// Each answer as the client tells it apart: the status line, the fields (sorted: the order is free), the body
    /// decoded from its framing; then whether the server ended the connection. Date is left out, and so is how a
    /// complete answer is framed: the front sends a body the worker finished before the head left with its length,
    /// where Kestrel had started it in chunks (HTTP/1.1) or unframed (HTTP/1.0, which then closes).
    /// </summary>
    private static async Task<List<string>> ConverseAsync(TestGateway gateway, string[] requests)
    {
        var seen = new List<string>();
        using var socket = await ConnectAsync(gateway);
        foreach (var template in requests)
        {
            var request = template.Replace("{host}", Host, StringComparison.Ordinal);
            var isHead = request.StartsWith("HEAD ", StringComparison.Ordinal);
            var answer = await ExchangeAsync(socket, request, responses: 1, headRequest: isHead);
            if (!isHead && IsUnframed(answer.Text))
            {
                // Neither a length nor chunks: the body runs to the close, whatever part of it came with the head.
                var rest = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10));
                seen.Add(Describe(answer.Text + rest?.Text, isHead));
                seen.Add(rest is null ? "open" : "closed");
                return seen;
            }

            seen.Add(Describe(answer.Text, isHead));
        }

        seen.Add(await ClosedAsync(socket, TimeSpan.FromSeconds(2)) ? "closed" : "open");
        return seen;
    }

    private static bool IsUnframed(string text)
    {
        var head = text[..Math.Max(0, text.IndexOf("\r\n\r\n", StringComparison.Ordinal))];
        return head.Length > 0 && !head.Contains("\r\nContent-Length:", StringComparison.OrdinalIgnoreCase)
            && !head.Contains("\r\nTransfer-Encoding:", StringComparison.OrdinalIgnoreCase);
    }

    private static string Describe(string text, bool isHead)
    {
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var lines = text[..headEnd].Split("\r\n");
        var fields = lines[1..]
            .Where(line => !line.StartsWith("Date:", StringComparison.OrdinalIgnoreCase) && !line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)
                && !line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal);
        var body = isHead ? string.Empty : new Answer([0], text).Body;
        return $"{lines[0]} [{string.Join("; ", fields)}] {body}";
    }

    private async Task<TestGateway> StartAsync(Backends backends, bool front) =>
        await TestGateway.StartAsync(TestConfigs.Static(backends.List), output, http1Front: front);
}
