using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Yarp.ReverseProxy.Configuration;

// The baseline perf/compare.sh measures AseGateway against: YARP as its getting-started page sets it up — one
// catch-all route, one cluster, one destination, every proxy setting at its default (web-host defaults too, so the
// GC and Kestrel settings are what a new YARP app gets). The only change: logging at Warning, because YARP logs
// every proxied request at Information and console logging would then be what is measured.
//   --backend http://127.0.0.1:5000/ --port 8000 (HTTP/1.1)  [--h2c-port 8001 (HTTP/2 prior knowledge: Kestrel
//   cannot tell h2c from HTTP/1.1 on one cleartext port)]  [--tls-port 8443 --pfx file.pfx --pfx-password pw]
var settings = ArgsToSettings(args);
var builder = WebApplication.CreateBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, Port(settings["port"]), listen => listen.Protocols = HttpProtocols.Http1);
    if (settings.TryGetValue("h2c-port", out var h2cPort))
    {
        kestrel.Listen(IPAddress.Loopback, Port(h2cPort), listen => listen.Protocols = HttpProtocols.Http2);
    }

    if (settings.TryGetValue("tls-port", out var tlsPort))
    {
        kestrel.Listen(IPAddress.Loopback, Port(tlsPort), listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(settings["pfx"], settings.GetValueOrDefault("pfx-password"));
        });
    }
});
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "backend", Match = new RouteMatch { Path = "/{**catch-all}" } }],
    [new ClusterConfig { ClusterId = "backend", Destinations = new Dictionary<string, DestinationConfig> { ["backend"] = new() { Address = settings["backend"] } } }]);

var app = builder.Build();
app.MapReverseProxy();
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"plain YARP listening on {string.Join(", ", app.Urls)}, forwarding to {settings["backend"]}"));
app.Run();

static int Port(string text) => int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

static Dictionary<string, string> ArgsToSettings(string[] args)
{
    var settings = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        settings[args[i].TrimStart('-')] = args[i + 1];
    }

    foreach (var required in new[] { "backend", "port" })
    {
        if (!settings.ContainsKey(required))
        {
            Console.Error.WriteLine("usage: AseGateway.PlainYarp --backend URL --port N [--h2c-port N] [--tls-port N --pfx FILE --pfx-password PW]");
            Environment.Exit(2);
        }
    }

    return settings;
}
