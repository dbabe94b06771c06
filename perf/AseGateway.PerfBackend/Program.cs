using System.Text;

// The backend every target of perf/compare.sh forwards to (TechEmpower's plaintext and JSON shapes): as little
// work per request as Kestrel allows, so the numbers measure the proxy in front of it.
//   GET /json      -> {"message":"Hello, World!"}
//   GET /bytes/N   -> N bytes of text (0 to 4 MiB), for the cost of larger bodies
//   anything else  -> Hello, World!   (13 bytes, text/plain; /healthz too, for the gateway's health checks)
// Ports: ASPNETCORE_URLS (set by the gateway for process instances), else $PORT, a port or a comma-separated list
// (compare.sh gives the full feature set's two worker instances two ports of one process), else 5000. HTTP/1.1: the
// proxies under test all speak HTTP/1.1 with keep-alive to their upstreams.
//
// With DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 (as compare.sh and ab.sh start it) Kestrel runs each request on
// the socket engine's thread that received it, as TechEmpower's plaintext runs do: no hop to the thread pool, whose
// workers, woken and then spinning for more work, cost this fixture more per request the less its requests arrive in
// batches. That made the fixture's cost depend on the proxy in front of it; see docs/performance-log.md "The backend".
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1")
{
    builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
}

if (Environment.GetEnvironmentVariable("ASPNETCORE_URLS") is null)
{
    var ports = (Environment.GetEnvironmentVariable("PORT") ?? "5000").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    builder.WebHost.UseUrls(Array.ConvertAll(ports, port => $"http://127.0.0.1:{port}"));
}

var app = builder.Build();
var plaintext = "Hello, World!"u8.ToArray();
var json = Encoding.UTF8.GetBytes("""{"message":"Hello, World!"}""");
var filler = new byte[4 << 20];
Array.Fill(filler, (byte)'a');
app.Run(context =>
{
    if (context.Request.Path.StartsWithSegments("/bytes", StringComparison.Ordinal, out var rest)
        && rest.Value is { Length: > 1 } digits && int.TryParse(digits.AsSpan(1), out var size) && size >= 0 && size <= filler.Length)
    {
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = size;
        return context.Response.Body.WriteAsync(filler.AsMemory(0, size)).AsTask();
    }

    var isJson = context.Request.Path.Equals("/json", StringComparison.Ordinal);
    var body = isJson ? json : plaintext;
    var response = context.Response;
    response.StatusCode = StatusCodes.Status200OK;
    response.ContentType = isJson ? "application/json" : "text/plain";
    response.ContentLength = body.Length;
    return response.Body.WriteAsync(body).AsTask();
});
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"perf backend listening on {string.Join(", ", app.Urls)}"));
app.Run();
