using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// A real Kestrel worker on 127.0.0.1 with a free port, standing in for a static worker: it answers with its own
/// name, records what it received, and its health endpoint can be switched to failing.
/// </summary>
public sealed class TestBackend : IAsyncDisposable
{
    /// <summary>Size of the /large answer: a big download, as the slow-read attack needs.</summary>
    public const int LargeResponseBytes = 8 * 1024 * 1024;

    // One shared buffer written in 64 KiB slices: the worker streams, so any memory a slow reader pins is the gateway's.
    private static readonly byte[] LargeResponse = new byte[LargeResponseBytes];

    private readonly WebApplication _app;
    private volatile int _healthStatus = 200;
    private int _requests;
    private int _inFlight;
    private int _maxInFlight;
    private int _healthPings;
    private int _disposed;

    private readonly bool _hashBodies;

    private TestBackend(string name, WebApplication app, bool hashBodies)
    {
        Name = name;
        _app = app;
        _hashBodies = hashBodies;
    }

    public string Name { get; }

    public Uri Url { get; private set; } = null!;

    public int RequestCount => Volatile.Read(ref _requests);

    public int HealthPings => Volatile.Read(ref _healthPings);

    /// <summary>Most non-health requests that were in progress at the same time.</summary>
    public int MaxConcurrentRequests => Volatile.Read(ref _maxInFlight);

    /// <summary>Headers of every non-health request, in arrival order.</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> ReceivedHeaders { get; } = new();

    /// <summary>Requests to /slow wait for this to complete.</summary>
    public TaskCompletionSource ReleaseSlow { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource SlowStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Requests to /abort-mid-body, having sent their headers and part of the body, abort when this completes.</summary>
    public TaskCompletionSource ReleaseAbort { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int HealthStatus
    {
        get => _healthStatus;
        set => _healthStatus = value;
    }

    /// <param name="hashBodies">Answer with the SHA-256 (hex) of the request body instead of the name.</param>
    public static async Task<TestBackend> StartAsync(string name, int port = 0, bool hashBodies = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var backend = new TestBackend(name, app, hashBodies);
        app.Run(backend.HandleAsync);
        await app.StartAsync();
        backend.Url = new Uri(app.Urls.First().TrimEnd('/') + "/");
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        // Fault tests stop a backend early (its port then refuses connections) and dispose it again at the end.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ReleaseSlow.TrySetResult();
        ReleaseAbort.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path == "/healthz")
        {
            Interlocked.Increment(ref _healthPings);
            context.Response.StatusCode = _healthStatus;
            await context.Response.WriteAsync("health");
            return;
        }

        Interlocked.Increment(ref _requests);
        var inFlight = Interlocked.Increment(ref _inFlight);
        int max;
        while (inFlight > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, inFlight, max) != max)
        {
        }

        try
        {
            await HandleAppRequestAsync(context);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task HandleAppRequestAsync(HttpContext context)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in context.Request.Headers)
        {
            headers[key] = value.ToString();
        }

        ReceivedHeaders.Enqueue(headers);
        // A worker that dies mid-request: before any response byte, or after the headers and part of the body.
        if (context.Request.Path == "/abort-before-response")
        {
            context.Abort();
            return;
        }

        if (context.Request.Path == "/abort-mid-body")
        {
            context.Response.ContentLength = 1000;
            await context.Response.WriteAsync(Name);
            await context.Response.Body.FlushAsync();
            await ReleaseAbort.Task;
            context.Abort();
            return;
        }

        if (context.Request.Path == "/slow")
        {
            SlowStarted.TrySetResult();
            await ReleaseSlow.Task;
        }

        if (AlbedoReflect.Handles(context.Request))
        {
            await AlbedoReflect.HandleAsync(context);
            return;
        }

        if (_hashBodies)
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            await context.Response.WriteAsync(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body.ToArray())));
            return;
        }

        if (context.Request.Path == "/large")
        {
            context.Response.ContentLength = LargeResponseBytes;
            for (var offset = 0; offset < LargeResponseBytes; offset += 64 * 1024)
            {
                await context.Response.Body.WriteAsync(LargeResponse.AsMemory(offset, 64 * 1024), context.RequestAborted);
            }

            return;
        }

        if (context.Request.Path == "/streamed")
        {
            // Two writes apart in time: the gateway sends the answer's head before its length is known (half a second, so
            // that a busy machine does not read both parts at once, which would let the front frame the whole answer).
            await context.Response.WriteAsync(Name);
            await context.Response.Body.FlushAsync();
            await Task.Delay(500);
            await context.Response.WriteAsync("-end");
            return;
        }

        if (context.Request.Path == "/no-affinity")
        {
            context.Response.Headers["Arr-Disable-Session-Affinity"] = "true";
        }

        await context.Response.WriteAsync(Name);
    }
}
