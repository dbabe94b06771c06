using System.Text;

// The backend every target of perf/compare.sh forwards to (TechEmpower's plaintext and JSON shapes): as little
// work per request as Kestrel allows, so the numbers measure the proxy in front of it.
//   GET /json      -> {"message":"Hello, World!"}
//   anything else  -> Hello, World!   (13 bytes, text/plain; /healthz too, for the gateway's health checks)
// Port: ASPNETCORE_URLS (set by the gateway for process instances), else $PORT, else 5000. HTTP/1.1: the proxies
// under test all speak HTTP/1.1 with keep-alive to their upstreams.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
if (Environment.GetEnvironmentVariable("ASPNETCORE_URLS") is null)
{
    builder.WebHost.UseUrls($"http://127.0.0.1:{Environment.GetEnvironmentVariable("PORT") ?? "5000"}");
}

var app = builder.Build();
var plaintext = "Hello, World!"u8.ToArray();
var json = Encoding.UTF8.GetBytes("""{"message":"Hello, World!"}""");
app.Run(context =>
{
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
