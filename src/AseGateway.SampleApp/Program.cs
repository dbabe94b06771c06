using AseGateway.SampleApp;

// The sample worker app the quickstart runs on every instance: it says which app and instance answered and what
// the front end sent it, and lets a demo flip its health check.
var identity = InstanceIdentity.FromEnvironment();
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
if (Environment.GetEnvironmentVariable("ASPNETCORE_URLS") is null)
{
    var port = Environment.GetEnvironmentVariable("PORT") ?? "5000";
    builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
}

builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, SampleJsonContext.Default));
var app = builder.Build();
var health = new HealthToggle();

app.MapGet("/healthz", () => health.Healthy ? Results.Text("Healthy\n") : Results.Text("Unhealthy\n", statusCode: StatusCodes.Status503ServiceUnavailable));
app.MapPost("/sample/health", (bool healthy) =>
{
    health.Healthy = healthy;
    return Results.Text($"instance {identity.InstanceName} health check now answers {(healthy ? "200" : "503")}\n");
});
app.MapGet("/sample/status/{code:int}", (int code) => Results.Text($"status {code}\n", statusCode: code is >= 200 and <= 599 ? code : 400));
app.MapGet("/sample/delay/{ms:int}", async (int ms, HttpContext context) =>
{
    await Task.Delay(Math.Clamp(ms, 0, 60_000), context.RequestAborted);
    return Echo.Describe(context, identity);
});
app.MapFallback((HttpContext context) => Echo.Describe(context, identity));

app.Lifetime.ApplicationStarted.Register(() =>
    Console.WriteLine($"sample app '{identity.AppName}' instance {identity.InstanceName} listening on {string.Join(", ", app.Urls)}"));
app.Run();
