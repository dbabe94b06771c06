using System.Net;
using System.Net.Sockets;
using System.Text;
using AseGateway.Http1Front;
using AseGateway.Model;
using AseGateway.Networking.EventLoop;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// A client that closes its connection while the front is still in a request: the request is aborted only when its
/// response was not yet whole. The application here waits, after writing, until the event loop saw the client's close,
/// so the order the flaky race left to chance (close first, request's end second) is the order every run takes.
/// </summary>
/// <remarks>
/// The test's own close callback runs on the loop beside the front's, in an order the tests do not rely on: after the
/// close, the application waits for the abort, as long as it must come and briefly where it must not (the front's
/// callback, if it cancelled, would do so microseconds later on the same thread).
/// </remarks>
public sealed class Http1FrontCloseTests
{
    private static readonly TimeSpan MustCome = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MustNotCome = TimeSpan.FromMilliseconds(500);

    [Theory]
    [InlineData(5, false)]
    [InlineData(10, true)]
    public async Task ClientClosesAfterReading_RequestAbortedOnlyWhenTheResponseWasNotWhole(int declaredLength, bool aborted)
    {
        var seen = new TaskCompletionSource<(bool AtEnd, bool AtCompleted)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var wrote = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await FrontHost.StartAsync(async context =>
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var onClosed = context.Features.Get<IConnectionLifetimeFeature>()!.ConnectionClosed.Register(() => closed.TrySetResult());
            var atEnd = false;
            context.Response.OnCompleted(() =>
            {
                seen.TrySetResult((atEnd, context.RequestAborted.IsCancellationRequested));
                return Task.CompletedTask;
            });
            context.Response.ContentLength = declaredLength;
            await context.Response.Body.WriteAsync("hello"u8.ToArray());
            await context.Response.Body.FlushAsync();
            wrote.TrySetResult();
            await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
            atEnd = await FiresWithinAsync(aborted ? MustCome : MustNotCome, context.RequestAborted);
        });

        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(IPAddress.Loopback, host.Port);
            await socket.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
            await wrote.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var received = new StringBuilder();
            var buffer = new byte[1024];
            while (!received.ToString().EndsWith("hello", StringComparison.Ordinal))
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
                Assert.NotEqual(0, read);
                received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            Assert.StartsWith("HTTP/1.1 200 ", received.ToString(), StringComparison.Ordinal);
        }

        var (atEnd, atCompleted) = await seen.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(aborted, atEnd);
        Assert.Equal(aborted, atCompleted);
    }

    [Fact]
    public async Task PipelinedRequest_AfterTheClientClosed_StartsAborted()
    {
        // The close comes after the first response's end is written (it does not abort the first request); the request
        // pipelined before it still starts, and finds its client gone.
        var firstDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closedSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstAborted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondAborted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await FrontHost.StartAsync(async context =>
        {
            if (context.Request.Path == "/first")
            {
                using var onClosed = context.Features.Get<IConnectionLifetimeFeature>()!.ConnectionClosed.Register(() => closedSeen.TrySetResult());
                context.Response.ContentLength = 2;
                await context.Response.Body.WriteAsync("ok"u8.ToArray());
                await context.Response.Body.FlushAsync();
                firstDone.TrySetResult();
                await closedSeen.Task.WaitAsync(TimeSpan.FromSeconds(10));
                firstAborted.TrySetResult(await FiresWithinAsync(MustNotCome, context.RequestAborted));
                return;
            }

            // Aborted as it starts, or (the front's close callback running just after it started) right after.
            secondAborted.TrySetResult(await FiresWithinAsync(MustCome, context.RequestAborted));
        });

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, host.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n"));
        await firstDone.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // A half-close, as a client that has sent all it will send: its FIN ends the receiving side, which is the
        // connection's close to the application (Kestrel's socket transport fires ConnectionClosed there too).
        socket.Shutdown(SocketShutdown.Send);

        Assert.False(await firstAborted.Task.WaitAsync(TimeSpan.FromSeconds(10)), "the close after the first response's end aborted it");
        Assert.True(await secondAborted.Task.WaitAsync(TimeSpan.FromSeconds(20)), "the request after the close was not aborted");
    }

    /// <summary>Whether <paramref name="token"/> is cancelled, or is within <paramref name="limit"/>.</summary>
    private static async Task<bool> FiresWithinAsync(TimeSpan limit, CancellationToken token)
    {
        try
        {
            await Task.Delay(limit, token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    /// <summary>Kestrel on the event loops with the HTTP/1.1 front in front, serving one application delegate.</summary>
    private sealed class FrontHost(WebApplication app, int port) : IAsyncDisposable
    {
        public int Port => port;

        public static async Task<FrontHost> StartAsync(RequestDelegate handler)
        {
            Assert.True(LinuxSockets.IsSupported, "the event loop transport, whose close these tests order, runs on Linux only");
            var builder = WebApplication.CreateSlimBuilder();
            var endpoints = new EventLoopEndpoints();
            var limits = LimitsModel.From(null);
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                endpoints.Add(listen);
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(Http1FrontRegistration.Middleware(listen.ApplicationServices, limits));
            }));
            EventLoopTransport.Add(builder.Services, endpoints);
            Http1FrontRegistration.Add(builder.Services);
            var app = builder.Build();
            app.Run(handler);
            await app.StartAsync();
            var address = new Uri(app.Urls.First());
            return new FrontHost(app, address.Port);
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
