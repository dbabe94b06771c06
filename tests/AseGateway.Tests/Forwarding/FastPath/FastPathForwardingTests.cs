using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AseGateway.Forwarding.FastPath;
using AseGateway.Tests.Http1Front;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Tests.Forwarding.FastPath;

/// <summary>
/// The fast path end to end: a real gateway forwarding to a raw-socket worker on loopback that sends exactly the
/// bytes each test needs, counting the connections the gateway opens.
/// </summary>
public sealed class FastPathForwardingTests(ITestOutputHelper output)
{
    private const string Ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    [Fact]
    public async Task ChunkedWithExtensionsAndTrailers_IsDecoded_AndTheConnectionIsReused()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n5;ext=1\r\nHello\r\n8\r\n, World!\r\n0\r\nX-Checksum: abc\r\n\r\n"));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, $"/chunked/{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, upstream.Connections);
        Assert.Equal(3, upstream.Requests.Count);
    }

    [Fact]
    public async Task ForwardedRequests_AreReportedAsHttpClientRequests_WithHttpClientsTags()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        // The fast path's own records: HttpClient's (this test's client among them) carry server.address, its do not.
        var statusCodes = new ConcurrentQueue<object?>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument is { Name: "http.client.request.duration", Meter.Name: "System.Net.Http" })
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, seconds, tags, _) =>
        {
            var fields = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                fields[tag.Key] = tag.Value;
            }

            if (!fields.ContainsKey("server.address") && fields.GetValueOrDefault("http.request.method") is "GET" && seconds >= 0
                && fields.GetValueOrDefault("network.protocol.version") is "1.1" && fields.GetValueOrDefault("url.scheme") is "http")
            {
                statusCodes.Enqueue(fields.GetValueOrDefault("http.response.status_code"));
            }
        });
        listener.Start();

        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, $"/metered/{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Other tests' gateways in this process may add records of their own: all that is certain is ours are there.
        var ok = statusCodes.Where(code => code is 200).ToList();
        Assert.True(ok.Count >= 3, $"{ok.Count} fast-path records with status 200");
        Assert.All(ok, code => Assert.Same(ok[0], code)); // boxed once, not per request
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HttpStatusCode.OK)]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", HttpStatusCode.Found)]
    public async Task EmptyContentLengthBody_IsAnsweredAtOnce_AndTheConnectionIsReused(string reply, HttpStatusCode status)
    {
        // Nothing follows "Content-Length: 0" on a keep-alive connection: waiting to read a body would hang the client.
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(reply));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, $"/empty/{i}");
            Assert.Equal(status, response.StatusCode);
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, upstream.Connections);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "conflicting Content-Length")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n X-Folded: yes\r\n\r\nok", "obs-fold")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "bare LF")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n", "Transfer-Encoding with Content-Length")]
    public async Task InvalidHead_Is502_AndTheConnectionIsNotReused(string reply, string what)
    {
        var count = 0;
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Interlocked.Increment(ref count) == 1 ? reply : Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        using (var response = await gateway.GetAsync(TestConfigs.AppHost, "/bad"))
        {
            Assert.True(HttpStatusCode.BadGateway == response.StatusCode, what);
        }

        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/good"));
        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task InvalidChunkSize_AfterSomeBody_CutsTheClientResponse()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n-1\r\nx\r\n0\r\n\r\n"));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        // Body bytes were already handed to Kestrel: the client must not take a cut body for a whole one, nor get
        // them inside a 502.
        var error = await Record.ExceptionAsync(async () =>
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, "/bad-chunk");
            output.WriteLine($"{response.StatusCode} '{await response.Content.ReadAsStringAsync()}'");
        });
        Assert.True(error is HttpRequestException or IOException, error?.ToString() ?? "the response was read whole");
    }

    [Fact]
    public async Task InvalidFirstChunk_IsAClean502()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-From-Worker: 1\r\n\r\nzz\r\nok\r\n0\r\n\r\n"));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        using var response = await gateway.GetAsync(TestConfigs.AppHost, "/bad-first-chunk");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.False(response.Headers.Contains("X-From-Worker"));
        Assert.Equal(string.Empty, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TruncatedBody_AbortsTheClientResponse_AndTheNextRequestUsesANewConnection()
    {
        var count = 0;
        await using var upstream = RawUpstream.Start(_ => Interlocked.Increment(ref count) == 1
            ? new RawReply(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + new string('a', 70000)), Close: true)
            : RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, "/truncated");
            await response.Content.ReadAsByteArrayAsync();
        });

        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/after"));
        Assert.Equal(2, upstream.Connections);
    }

    [Theory]
    [InlineData("content-length")]
    [InlineData("chunked")]
    [InlineData("close-delimited")]
    public async Task BodyLongerThanOneRead_ArrivesWhole_AndTheClientIsNotKeptWaiting(string framing)
    {
        // More than the connection's 16 KiB read buffer: the head goes out with the first flush, and the tail after
        // the last one must be flushed too, or the client waits for it until the connection's next response.
        var body = new string('x', 100_000) + "end";
        var chunks = new StringBuilder();
        for (var offset = 0; offset < body.Length; offset += 4096)
        {
            var chunk = body.Substring(offset, Math.Min(4096, body.Length - offset));
            chunks.Append($"{chunk.Length:x}\r\n{chunk}\r\n");
        }

        await using var upstream = RawUpstream.Start(_ => framing switch
        {
            "content-length" => RawReply.Text($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}"),
            "chunked" => RawReply.Text($"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}0\r\n\r\n"),
            _ => RawReply.Text($"HTTP/1.1 200 OK\r\n\r\n{body}", close: true),
        });
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        for (var i = 0; i < 2; i++)
        {
            // The client reads the whole body before it answers: bounded, so a stuck tail fails instead of hanging.
            using var response = await gateway.GetAsync(TestConfigs.AppHost, $"/long/{i}").WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(body, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(framing == "close-delimited" ? 2 : 1, upstream.Connections);
    }

    [Fact]
    public async Task ConnectionClose_AndCloseDelimitedBodies_AreNotReused()
    {
        var count = 0;
        await using var upstream = RawUpstream.Start(_ => Interlocked.Increment(ref count) switch
        {
            1 => RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfirst", close: true),
            2 => RawReply.Text("HTTP/1.1 200 OK\r\n\r\nuntil the worker closes", close: true),
            _ => RawReply.Text(Ok),
        });
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        Assert.Equal("first", await gateway.GetBodyAsync(TestConfigs.AppHost, "/1"));
        Assert.Equal("until the worker closes", await gateway.GetBodyAsync(TestConfigs.AppHost, "/2"));
        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/3"));
        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/4"));
        Assert.Equal(3, upstream.Connections);
    }

    [Fact]
    public async Task WorkerClosesAnIdleConnection_TheNextRequestIsSentAgainOnANewOne()
    {
        // The worker answers and then closes without saying so (as a keep-alive timeout does).
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok, close: true));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, $"/{i}"));
        }

        Assert.Equal(3, upstream.Connections);
    }

    [Fact]
    public async Task BytesAfterTheBody_InTheSameSend_RetireTheConnection_TheNextRequestGetsItsOwnAnswer()
    {
        // The body arrives whole with its head, and a second response nobody asked for right behind it: the client
        // gets exactly its body, and the connection is not pooled with the stray answer in it.
        await using var upstream = FirstThenFresh(RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/first"));
        await AssertLaterAnswersAreFreshOnOneNewConnection(gateway, upstream);
    }

    [Fact]
    public async Task BytesSentWhileIdle_RetireTheConnection_TheNextRequestGetsItsOwnAnswer()
    {
        // A worker out of step writes a response nobody asked for on the pooled connection: taken for the next
        // request's answer it would desynchronise every exchange after it.
        var stale = new UnsolicitedBytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale");
        await using var upstream = FirstThenFresh(RawReply.Text(Ok) with { Unsolicited = stale });
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/first"));
        await stale.Sent.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // Loopback delivers at once; the wait lets the gateway's pending read see the bytes on a busy machine.
        await Task.Delay(TimeSpan.FromMilliseconds(500));

        await AssertLaterAnswersAreFreshOnOneNewConnection(gateway, upstream);
    }

    /// <summary>A worker that answers the request for /first with <paramref name="first"/>, and every other with "fresh".</summary>
    private static RawUpstream FirstThenFresh(RawReply first) => RawUpstream.Start(request => request.Contains("/first", StringComparison.Ordinal)
        ? first
        : RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"));

    /// <summary>After a first exchange that left its connection unusable: the next requests get their own answers, on one new connection.</summary>
    private static async Task AssertLaterAnswersAreFreshOnOneNewConnection(TestGateway gateway, RawUpstream upstream)
    {
        Assert.Equal("fresh", await gateway.GetBodyAsync(TestConfigs.AppHost, "/second"));
        Assert.Equal("fresh", await gateway.GetBodyAsync(TestConfigs.AppHost, "/third"));
        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task InterimResponses_AreSkipped_HeadHas_NoBody()
    {
        await using var upstream = RawUpstream.Start(request => request.StartsWith("HEAD", StringComparison.Ordinal)
            ? RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
            : RawReply.Text("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/hints"));
        using (var head = await gateway.GetAsync(TestConfigs.AppHost, "/head", request => request.Method = HttpMethod.Head))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(1234, head.Content.Headers.ContentLength);
        }

        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/again"));
        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task PoolAtItsLimit_FurtherRequestsGoThroughYarp()
    {
        var slowArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = RawUpstream.Start(request =>
        {
            if (!request.Contains("/slow", StringComparison.Ordinal))
            {
                return RawReply.Text(Ok);
            }

            slowArrived.TrySetResult();
            return RawReply.Text(Ok) with { Delay = TimeSpan.FromSeconds(1) };
        });
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url, """{ "fastPath": true, "maxConnectionsPerInstance": 1 }"""), output);

        var slow = gateway.GetBodyAsync(TestConfigs.AppHost, "/slow");
        await slowArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/meanwhile"));
        Assert.Equal("ok", await slow);

        // The second request could not have a fast-path connection, so YARP's HttpClient opened its own.
        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task ChunkedRequestBody_IsForwardedChunked_OnThePooledConnection_ContentLengthBody_AsItIs()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        using (var response = await gateway.GetAsync(TestConfigs.AppHost, "/sized", request =>
        {
            request.Method = HttpMethod.Post;
            request.Content = new ByteArrayContent(Encoding.ASCII.GetBytes("name=value"));
        }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var large = new string('x', 100_000);
        foreach (var body in new[] { "name=value", large, string.Empty })
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, "/chunked-body", request =>
            {
                request.Method = HttpMethod.Post;
                request.Content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes(body)));
                request.Headers.TransferEncodingChunked = true;
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var requests = upstream.Requests.ToArray();
        Assert.Equal(4, requests.Length);
        Assert.EndsWith("\r\n\r\nname=value", requests[0], StringComparison.Ordinal);
        Assert.Contains("Content-Length: 10\r\n", requests[0], StringComparison.Ordinal);
        string[] expected = ["name=value", large, string.Empty];
        for (var i = 1; i < 4; i++)
        {
            var (head, body) = Split(requests[i]);
            Assert.Contains("Transfer-Encoding: chunked\r\n", head, StringComparison.Ordinal);
            Assert.DoesNotContain("Content-Length", head, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(expected[i - 1], RawUpstream.DecodeChunked(body));
        }

        // All on the fast path's one pooled connection: YARP's HttpClient would have opened its own.
        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task ChunkedRequest_FromTheWire_GoesOnWithoutItsExtensionsAndTrailers()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);
        using var socket = await FrontWire.ConnectAsync(gateway);

        var answer = await FrontWire.ExchangeAsync(socket,
            $"POST /wire HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n"
            + $"GET /after HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\n\r\n", responses: 2);

        Assert.Equal([200, 200], answer.Statuses);
        var requests = upstream.Requests.ToArray();
        var (head, body) = Split(requests[0]);
        Assert.Equal("hello, world", RawUpstream.DecodeChunked(body));
        Assert.DoesNotContain("name=value", body, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Checksum", body, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Checksum", head, StringComparison.Ordinal);
        Assert.StartsWith("GET /after ", requests[1], StringComparison.Ordinal);
        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task TransferCodingBesideChunked_GoesThroughYarp()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);
        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/first"));
        using var socket = await FrontWire.ConnectAsync(gateway);

        var answer = await FrontWire.ExchangeAsync(socket,
            $"POST /coded HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", responses: 1);

        Assert.Equal([200], answer.Statuses);
        // The fast path's connection had the first request; YARP's HttpClient opened its own for this one.
        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task ChunkedBody_BrokenByTheClient_Is400_AndTheHalfSentConnectionIsNotUsedAgain()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);
        using (var socket = await FrontWire.ConnectAsync(gateway))
        {
            // The first chunk goes on to the worker before the second one's size turns out not to be hex.
            await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /broken HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
            await Task.Delay(200);
            var answer = await FrontWire.ExchangeAsync(socket, "zz\r\nmore\r\n0\r\n\r\n", responses: 1);
            Assert.Equal([400], answer.Statuses);
        }

        // Had the worker's connection gone back to the pool, this request would follow an unfinished body on it.
        Assert.Equal("ok", await gateway.GetBodyAsync(TestConfigs.AppHost, "/next"));
        var request = Assert.Single(upstream.Requests);
        Assert.StartsWith("GET /next ", request, StringComparison.Ordinal);
    }

    private static (string Head, string Body) Split(string request)
    {
        var end = request.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (request[..(end + 2)], request[(end + 4)..]);
    }

    [Fact]
    public async Task LargeContentLengthBody_IsForwardedWhole_AndTheConnectionIsKept()
    {
        // Larger than the connection buffers on either side: the body is copied as it arrives, in reads of whatever
        // the client's connection holds, and every byte reaches the worker in order.
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);
        var random = new Random(7);
        var bodies = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var body = string.Create(300_000 + i, random, static (span, r) =>
            {
                for (var j = 0; j < span.Length; j++)
                {
                    span[j] = (char)('a' + r.Next(26));
                }
            });
            bodies.Add(body);
            using var response = await gateway.GetAsync(TestConfigs.AppHost, $"/upload/{i}", request =>
            {
                request.Method = HttpMethod.Post;
                request.Content = new StringContent(body, Encoding.ASCII, "text/plain");
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var requests = upstream.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        for (var i = 0; i < 2; i++)
        {
            Assert.Contains($"Content-Length: {bodies[i].Length}\r\n", requests[i], StringComparison.Ordinal);
            Assert.Equal(bodies[i], requests[i][(requests[i].IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        }

        Assert.Equal(1, upstream.Connections);
    }

    [Theory]
    [InlineData("h1", true)]
    [InlineData("h2c", true)]
    [InlineData("h1", false)] // chunked
    [InlineData("h2c", false)] // no Content-Length: chunked to the worker
    public async Task UploadToAWorkerThatIsNotReadingYet_WaitsForRoom_AndArrivesWhole(string protocol, bool sized)
    {
        // The body is sent from the client connection's buffers while the worker's socket takes it. The worker reads
        // nothing until released, so the socket fills: part of a read goes, the rest is copied and waits in the
        // connection's pipe, and later reads must queue behind it, not overtake it.
        var body = new byte[16 * 1024 * 1024];
        new Random(11).NextBytes(body);
        await using var backend = await TestBackend.StartAsync("hash", hashBodies: true);
        await using var gateway = await TestGateway.StartAsync(TestConfigs.WithH2c(TestConfigs.Static([backend])), output);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(protocol == "h1" ? gateway.Url : gateway.Server.ListenerUrls["h2c"], "/slow"))
        {
            Version = protocol == "h1" ? HttpVersion.Version11 : HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = sized ? new ByteArrayContent(body) : new UnsizedContent(body),
        };
        request.Headers.Host = TestConfigs.AppHost;
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var sending = client.SendAsync(request);

        await backend.SlowStarted.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await Task.Delay(300);
        Assert.False(sending.IsCompleted, "the upload finished while the worker read nothing");
        backend.ReleaseSlow.TrySetResult();

        using var response = await sending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body)), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RepeatedHeader_GoesThroughYarp_WhichSendsAllItsValues()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url), output);

        // HttpClient would join the values itself: only a raw client sends the field twice.
        using var socket = await LoopbackClient.ConnectAsync(IPAddress.Loopback, gateway.Url);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /repeated HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nX-Repeated: a\r\nX-Repeated: b\r\nConnection: close\r\n\r\n"));
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, reading.Token)) > 0)
        {
            response.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        Assert.StartsWith("HTTP/1.1 200 ", response.ToString(), StringComparison.Ordinal);

        // The fast path writes one value per field; YARP's HttpClient sends both, joined.
        Assert.Contains("X-Repeated: a, b\r\n", upstream.Requests.Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6000)] // longer than the one piece the head is first written into: written again piece by piece
    public async Task ForwardedHead_IsTheSameAsYarps(int longHeader)
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        void Configure(HttpRequestMessage request)
        {
            if (longHeader > 0)
            {
                request.Headers.TryAddWithoutValidation("X-Long", new string('l', longHeader));
            }

            request.Headers.TryAddWithoutValidation("X-Client-IP", "6.6.6.6");
            request.Headers.TryAddWithoutValidation("X-Original-URL", "/spoofed");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "6.6.6.6");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.test");
            request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
            request.Headers.TryAddWithoutValidation("Proxy-Connection", "keep-alive");
            request.Headers.TryAddWithoutValidation("Upgrade-Insecure-Requests", "1");
            request.Headers.TryAddWithoutValidation("Accept", "text/html");
            request.Headers.TryAddWithoutValidation("Cookie", "a=1; b=2");
            // Each reason a client's header is withheld, in another case than the usual one.
            request.Headers.TryAddWithoutValidation("x-arr-ssl", "spoofed");
            request.Headers.TryAddWithoutValidation("FORWARDED", "for=6.6.6.6");
            request.Headers.TryAddWithoutValidation("x-forwarded-proto", "evil-proto");
            request.Headers.TryAddWithoutValidation("TraceParent", ClientTraceParent);
        }

        var heads = new List<string>();
        var raw = new List<string>();
        foreach (var fastPath in new[] { false, true })
        {
            await using var gateway = await TestGateway.StartAsync(Config(upstream.Url, $$"""{ "fastPath": {{(fastPath ? "true" : "false")}} }"""), output);
            foreach (var path in new[] { "/a/b?x=1&y=%20z", "/caf%C3%A9/%2F?q=%zz" })
            {
                await gateway.GetBodyAsync(TestConfigs.AppHost, path, Configure);
                heads.Add(Normalize(upstream.Requests.Last()));
                raw.Add(upstream.Requests.Last());
            }
        }

        output.WriteLine(string.Join("\n---\n", heads));
        Assert.Equal(heads[0], heads[2]);
        Assert.Equal(heads[1], heads[3]);
        Assert.DoesNotContain("6.6.6.6", heads[2], StringComparison.Ordinal);
        Assert.DoesNotContain("evil.test", heads[2], StringComparison.Ordinal);
        Assert.DoesNotContain("Keep-Alive", heads[2], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("spoofed", heads[2], StringComparison.Ordinal);
        Assert.DoesNotContain("evil-proto", heads[2], StringComparison.Ordinal);
        foreach (var head in raw)
        {
            // The gateway's own hop in the client's trace, once: the client's value is not passed on beside it.
            var traceParents = head.Split("\r\n\r\n")[0].Split("\r\n").Where(line => line.StartsWith("traceparent:", StringComparison.OrdinalIgnoreCase)).ToList();
            var traceParent = Assert.Single(traceParents);
            Assert.Contains("0af7651916cd43dd8448eb211c80319c", traceParent, StringComparison.Ordinal);
            Assert.DoesNotContain(ClientTraceParent, traceParent, StringComparison.Ordinal);
        }

        Assert.Equal(longHeader > 0, heads[2].Split('\n').Contains($"X-Long: {new string('l', longHeader)}"));
    }

    [Fact]
    public async Task ClientPort_IsThePortTheClientConnectedFrom_OnBothPaths()
    {
        // The head comparison above leaves the port out (each request has its own): here it is checked against the socket.
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        foreach (var fastPath in new[] { false, true })
        {
            await using var gateway = await TestGateway.StartAsync(Config(upstream.Url, $$"""{ "fastPath": {{(fastPath ? "true" : "false")}} }"""), output);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, gateway.Url.Port);
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /port HTTP/1.1\r\nHost: {TestConfigs.AppHost}\r\nConnection: close\r\n\r\n"), SocketFlags.None);
            var buffer = new byte[4096];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
            {
            }

            var fields = upstream.Requests.Last().Split("\r\n\r\n")[0].Split("\r\n");
            Assert.Contains("X-Client-Port: " + port.ToString(System.Globalization.CultureInfo.InvariantCulture), fields);
        }
    }

    [Fact]
    public async Task AffinityCookie_IsSet_UntilTheClientSendsItBack()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(Ok));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url, affinity: true), output);

        string cookie;
        using (var first = await gateway.GetAsync(TestConfigs.AppHost, "/first"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            cookie = Assert.Single(first.Headers.GetValues("Set-Cookie"), value => value.StartsWith("ARRAffinity=", StringComparison.Ordinal));
        }

        using var pinned = await gateway.GetAsync(TestConfigs.AppHost, "/pinned", request => request.Headers.Add("Cookie", cookie.Split(';')[0]));
        Assert.Equal(HttpStatusCode.OK, pinned.StatusCode);
        Assert.False(pinned.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task ResponseFields_RepeatedOnesKeepEveryValue_HopByHopOnesAreDropped()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\nX-Multi: one\r\nKeep-Alive: timeout=5\r\nVary: Accept\r\n"
            + "Proxy-Connection: keep-alive\r\nset-cookie: b=2\r\nX-Multi: two\r\nConnection: keep-alive\r\nCache-Control: no-store\r\n\r\nok"));
        await using var gateway = await TestGateway.StartAsync(Config(upstream.Url, affinity: true), output);

        for (var i = 0; i < 2; i++)
        {
            using var response = await gateway.GetAsync(TestConfigs.AppHost, $"/fields/{i}");
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
            var cookies = response.Headers.GetValues("Set-Cookie").ToList();
            Assert.Equal(["a=1", "b=2"], cookies.Take(2));
            Assert.Contains(cookies, value => value.StartsWith("ARRAffinity=", StringComparison.Ordinal));
            Assert.Equal(["one", "two"], response.Headers.GetValues("X-Multi"));
            Assert.Equal(["Accept"], response.Headers.GetValues("Vary"));
            Assert.True(response.Headers.CacheControl?.NoStore);
            Assert.False(response.Headers.Contains("Keep-Alive"));
            Assert.False(response.Headers.Contains("Proxy-Connection"));
        }

        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public void DestinationConcurrency_MovesYarpsInFlightCount()
    {
        var destination = new DestinationState("d1");

        DestinationConcurrency.Increment(destination);
        DestinationConcurrency.Increment(destination);
        Assert.Equal(2, destination.ConcurrentRequestCount);
        DestinationConcurrency.Decrement(destination);
        Assert.Equal(1, destination.ConcurrentRequestCount);
    }

    /// <summary>The request line and headers sorted by name (order differs between HttpClient and the fast path), trace context and port left out.</summary>
    private const string ClientTraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// <summary>A body HttpClient cannot know the length of: chunked over HTTP/1.1, without Content-Length over HTTP/2.</summary>
    private sealed class UnsizedContent(byte[] body) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var at = 0; at < body.Length; at += 100_000)
            {
                await stream.WriteAsync(body.AsMemory(at, Math.Min(100_000, body.Length - at)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private static string Normalize(string request)
    {
        var lines = request.Split("\r\n\r\n")[0].Split("\r\n");
        var fields = lines.Skip(1)
            .Where(line => !line.StartsWith("traceparent:", StringComparison.OrdinalIgnoreCase) && !line.StartsWith("X-Client-Port:", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.OrdinalIgnoreCase);
        return string.Join("\n", fields.Prepend(lines[0]));
    }

    private static string Config(Uri worker, string forwarding = """{ "fastPath": true }""", bool affinity = false) => $$"""
        {
          "name": "test-ase",
          "dnsSuffix": "ase.test",
          "frontEnd": {
            "listeners": [ { "name": "http", "address": "127.0.0.1", "port": 0, "protocol": "Http" } ],
            "forwarding": {{forwarding}}
          },
          "workerPools": [ { "name": "WP1", "workerSize": "Small", "workerCount": 1, "workers": [ { "address": "{{worker}}" } ] } ],
          "plans": [ { "name": "web-plan", "workerPool": "WP1", "instanceCount": 1 } ],
          "apps": [ { "name": "web", "plan": "web-plan", "hostNames": [ "{{TestConfigs.AppHost}}" ], "clientAffinityEnabled": {{(affinity ? "true" : "false")}} } ],
          "management": { "address": "127.0.0.1", "port": 0 }
        }
        """;
}
