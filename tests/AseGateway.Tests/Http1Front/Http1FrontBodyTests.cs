using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using AseGateway.Http1Front;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;
using static AseGateway.Tests.Http1Front.FrontWire;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// Request bodies on the HTTP/1.1 front, over raw sockets: a Content-Length body up to <see cref="RequestHead.MaxBody"/>
/// is read whole and served by the front, with the bytes after it left for the next request, and so is a plainly
/// chunked one of up to that much data; a longer sized one is streamed (<c>Http1FrontBodyTests.Streamed.cs</c>); a
/// larger chunked one, or one chunked otherwise, is Kestrel's; a body that stops arriving is timed by Kestrel's minimum
/// data rate. The worker answers each request with the SHA-256 of the body it received.
/// </summary>
public sealed partial class Http1FrontBodyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string Host = TestConfigs.AppHost;
    private TestBackend _worker = null!;

    public async Task InitializeAsync() => _worker = await TestBackend.StartAsync("hashing", hashBodies: true);

    public async Task DisposeAsync() => await _worker.DisposeAsync();

    [Fact]
    public async Task ContentLengthBodies_ServedByTheFront_EachForwardedWhole_OnOneConnection()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        var sixteenKiB = Body(16 * 1024, seed: 1);
        var largest = Body(RequestHead.MaxBody, seed: 2);

        foreach (var body in new[] { "hello", sixteenKiB, string.Empty, largest, "{\"a\":1}" })
        {
            var answer = await ExchangeAsync(socket, Post(body), responses: 1);
            Assert.Equal([200], answer.Statuses);
            Assert.Equal(Sha256(body), answer.Body);
        }

        await AssertAllServedByTheFrontAsync(gateway, socket, 5);
    }

    [Fact]
    public async Task Pipelined_BodyThatLooksLikeARequest_ThenAPlainRequest_ExactlyTwoForwarded()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        // The body is a request's bytes: only its Content-Length says where it ends, and nothing after it is read early.
        var inner = $"GET /smuggled HTTP/1.1\r\nHost: {Host}\r\n\r\n";

        var answer = await ExchangeAsync(socket, Post(inner) + $"GET /after HTTP/1.1\r\nHost: {Host}\r\nConnection: close\r\n\r\n", responses: 2);

        Assert.Equal([200, 200], answer.Statuses);
        Assert.Contains(Sha256(inner), answer.Text, StringComparison.Ordinal);
        Assert.Contains(Sha256(string.Empty), answer.Text, StringComparison.Ordinal);
        Assert.True(await ClosedAsync(socket));
        Assert.Equal(2, _worker.RequestCount);
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.Served == 2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BodyInPieces_IsServedOnceWhole(bool chunked)
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        var body = Body(chunked ? 3000 : 20_000, seed: 3);
        var request = chunked ? Chunked(body, 1000) : Post(body);

        // Chunked, cut inside a size line, between its CR and LF, inside data, and before the last chunk's empty line.
        var framed = request.Length - (request.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4);
        int[] cuts = chunked ? [1, 5, 500, framed - 3, framed - 2] : [100, 9000];
        var answer = await SendInPiecesAsync(socket, request, cuts, TimeSpan.FromMilliseconds(100));

        Assert.Equal([200], answer.Statuses);
        Assert.Equal(Sha256(body), answer.Body);
        Assert.Equal(1, _worker.RequestCount);
        await AssertAllServedByTheFrontAsync(gateway, socket, 1);
    }

    [Fact]
    public async Task UnreadBody_OfAnAnswerTheGatewayWrites_IsSkipped_TheConnectionGoesOn()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        // The unknown host's 404 reads no body; the bytes that would parse as a request must be passed over whole.
        var inner = $"GET /inner HTTP/1.1\r\nHost: {Host}\r\n\r\n";

        var unknown = await ExchangeAsync(socket, $"POST / HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: {inner.Length}\r\n\r\n{inner}", responses: 1);
        var known = await ExchangeAsync(socket, Post("next"), responses: 1);

        Assert.Equal([404], unknown.Statuses);
        Assert.Equal([200], known.Statuses);
        Assert.Equal(Sha256("next"), known.Body);
        Assert.Equal(1, _worker.RequestCount);
    }

    [Theory]
    [InlineData("Content-Length: 1000\r\n\r\n0123456789")]
    [InlineData("Transfer-Encoding: chunked\r\n\r\n3e8\r\n0123456789")]
    public async Task StalledBody_ConnectionClosedOnceBelowTheMinimumRate_AfterTheGracePeriod_NothingForwarded(string framingAndStart)
    {
        // A head timeout of 60 s, which a complete head is no longer under: the body's rate closes the connection.
        await using var gateway = await StartAsync(headTimeoutSeconds: 60);
        using var socket = await ConnectAsync(gateway);
        var started = DateTime.UtcNow;

        // 10 bytes of 1,000, then nothing: under the default 240 bytes a second once the 5 s grace period is over.
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST / HTTP/1.1\r\nHost: {Host}\r\n{framingAndStart}"));

        Assert.True(await ClosedAsync(socket, TimeSpan.FromSeconds(15)), "a stalled body kept its connection open");
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(4.5), "closed before the grace period was over");
        Assert.Equal(0, _worker.RequestCount);
    }

    [Fact]
    public async Task SlowBody_AboveTheMinimumRate_OutlastsTheHeadTimeout_AndIsServed()
    {
        // A head timeout of 1 s: a body arriving over about 2 s, well above 240 bytes a second, is not cut by it.
        await using var gateway = await StartAsync(headTimeoutSeconds: 1);
        using var socket = await ConnectAsync(gateway);
        var body = Body(4000, seed: 5);

        var answer = await SendInPiecesAsync(socket, Post(body), bodyCuts: [0, 1000, 2000, 3000], TimeSpan.FromMilliseconds(500));

        Assert.Equal([200], answer.Statuses);
        Assert.Equal(Sha256(body), answer.Body);
    }

    [Fact]
    public async Task ChunkedBodies_ServedByTheFront_EachForwardedWhole_OnOneConnection()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        var largest = Body(RequestHead.MaxBody, seed: 6);

        // One chunk, many small ones, none, the most the front takes (in 4 KiB chunks), and one in upper-case hex.
        string[] bodies = ["hello", Body(5000, seed: 7), string.Empty, largest, Body(0x1AB, seed: 8)];
        int[] chunkSizes = [5, 7, 1, 4096, 0x1AB];
        for (var i = 0; i < bodies.Length; i++)
        {
            var answer = await ExchangeAsync(socket, Chunked(bodies[i], chunkSizes[i], upperHex: i == 4), responses: 1);
            Assert.Equal([200], answer.Statuses);
            Assert.Equal(Sha256(bodies[i]), answer.Body);
        }

        await AssertAllServedByTheFrontAsync(gateway, socket, bodies.Length);
    }

    [Fact]
    public async Task Pipelined_ChunkedBodyThatLooksLikeARequest_ThenAPlainRequest_ExactlyTwoForwarded()
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        var inner = $"GET /smuggled HTTP/1.1\r\nHost: {Host}\r\n\r\n";

        var answer = await ExchangeAsync(socket, Chunked(inner, 10) + $"GET /after HTTP/1.1\r\nHost: {Host}\r\n\r\n", responses: 2);

        Assert.Equal([200, 200], answer.Statuses);
        Assert.Contains(Sha256(inner), answer.Text, StringComparison.Ordinal);
        Assert.Contains(Sha256(string.Empty), answer.Text, StringComparison.Ordinal);
        Assert.Equal(2, _worker.RequestCount);
        await AssertAllServedByTheFrontAsync(gateway, socket, 2);
    }

    [Theory]
    [InlineData("5;ext=1\r\nhello\r\n0\r\n\r\n", "hello", "a chunk extension")]
    [InlineData("5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", "hello", "a trailer field")]
    [InlineData("05 \r\nhello\r\n0\r\n\r\n", null, "whitespace after the size")]
    [InlineData("5\nhello\r\n0\r\n\r\n", null, "a bare LF after the size")]
    [InlineData("5\r\nhelloX\r\n0\r\n\r\n", null, "data longer than its size")]
    [InlineData("fffff\r\n", null, "a chunk larger than the front takes")]
    public async Task ChunkedBody_NotPlain_KestrelServesOrRefusesIt_AsWithoutTheFront(string framed, string? data, string what)
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        await ExchangeAsync(socket, Post("first"), responses: 1);

        var answer = await ExchangeAsync(socket, $"POST /upload HTTP/1.1\r\nHost: {Host}\r\nTransfer-Encoding: chunked\r\n\r\n{framed}", responses: 1);

        if (data is null)
        {
            // Kestrel refuses it; the large chunk it waits for, and answers 408 once its data is too slow (or not yet).
            Assert.True(answer.Statuses is [400] or [408] or [], $"{what}: [{string.Join(", ", answer.Statuses)}]");
            Assert.Equal(1, _worker.RequestCount);
        }
        else
        {
            Assert.Equal([200], answer.Statuses);
            Assert.Equal(Sha256(data), answer.Body);
        }

        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.HandedOff == 1);
    }

    [Theory]
    [InlineData("Transfer-Encoding: gzip, chunked\r\n", "another coding")]
    [InlineData("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "two fields")]
    [InlineData("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "a Content-Length beside it")]
    public async Task TransferEncoding_NotChunkedAlone_IsKestrels(string fields, string what)
    {
        await using var gateway = await StartAsync();
        using var socket = await ConnectAsync(gateway);
        await ExchangeAsync(socket, Post("first"), responses: 1);

        var answer = await ExchangeAsync(socket, $"POST /upload HTTP/1.1\r\nHost: {Host}\r\n{fields}\r\n5\r\nhello\r\n0\r\n\r\n", responses: 1);

        Assert.True(answer.Statuses.Count == 1, what);
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.HandedOff == 1);
    }

    private async Task<TestGateway> StartAsync(int? headTimeoutSeconds = null, int? maxBodyMb = null, bool http1Front = true)
    {
        var json = TestConfigs.Static([_worker]);
        var limits = new List<string>();
        if (headTimeoutSeconds is { } seconds)
        {
            limits.Add($"\"requestHeadersTimeoutSeconds\": {seconds}");
        }

        if (maxBodyMb is { } megabytes)
        {
            limits.Add($"\"maxRequestBodySizeInMb\": {megabytes}");
        }

        if (limits.Count > 0)
        {
            json = json.Replace("\"trustedForwarders\"", $"\"limits\": {{ {string.Join(", ", limits)} }}, \"trustedForwarders\"", StringComparison.Ordinal);
        }

        return await TestGateway.StartAsync(json, output, http1Front: http1Front);
    }

    /// <summary>Closes the connection, after which the front counts what it served on it: these requests, none handed off.</summary>
    private static async Task AssertAllServedByTheFrontAsync(TestGateway gateway, Socket socket, int served)
    {
        socket.Close();
        await WaitForAsync(() => gateway.Server.Http1FrontCounts!.Served == served);
        Assert.Equal(0, gateway.Server.Http1FrontCounts!.HandedOff);
    }

    /// <summary>Sends the request cut at these offsets into its body, pausing after each piece, then reads its answer.</summary>
    private static async Task<Answer> SendInPiecesAsync(Socket socket, string request, int[] bodyCuts, TimeSpan pause)
    {
        var bodyStart = request.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        var sent = 0;
        foreach (var cut in bodyCuts)
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(request[sent..(bodyStart + cut)]));
            sent = bodyStart + cut;
            await Task.Delay(pause);
        }

        return await ExchangeAsync(socket, request[sent..], responses: 1);
    }

    /// <summary>A POST of the body in chunks of this size (the last one shorter), then the last chunk.</summary>
    private static string Chunked(string body, int chunkSize, bool upperHex = false)
    {
        var framed = new StringBuilder($"POST /upload HTTP/1.1\r\nHost: {Host}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (var at = 0; at < body.Length; at += chunkSize)
        {
            var size = Math.Min(chunkSize, body.Length - at);
            framed.Append(size.ToString(upperHex ? "X" : "x", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n").Append(body, at, size).Append("\r\n");
        }

        return framed.Append("0\r\n\r\n").ToString();
    }

    private static string Post(string body) =>
        $"POST /upload HTTP/1.1\r\nHost: {Host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n{body}";

    /// <summary>Printable bytes that differ from one body to the next (the WAF reads them as text).</summary>
    private static string Body(int length, int seed)
    {
        var random = new Random(seed);
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = (char)random.Next('a', 'z' + 1);
        }

        return new string(chars);
    }

    private static string Sha256(string body) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(body)));
}
