using System.Net;
using AseGateway.Forwarding.FastPath;
using AseGateway.ForwardingFloor;
using AseGateway.Networking.EventLoop;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The forwarding floor perf/compare.sh measures beside the gateway (target "floor", HTTP/1.1 only): the gateway's own
// event loops, keep-alive pool of worker connections and response-head parser, behind a minimal HTTP/1.1 front in
// place of Kestrel's HTTP layer, the ASP.NET Core and YARP pipelines and the gateway's stages. Its CPU per request is
// what forwarding on these loops costs at the least; the difference to ase-bare is what the layers above cost. A
// measuring instrument, not a server (ForwardingFloorHandler says what it leaves out).
//   --backend http://127.0.0.1:5000/ --port 8000 [--model bytes|http-context]
// --model http-context: the heads through an HttpContext and header dictionaries and a chain of middleware, as a lean
// front that kept the gateway's stages as ASP.NET Core middleware would handle them (HttpContextHeads).
var settings = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    settings[args[i].TrimStart('-')] = args[i + 1];
}

if (!settings.TryGetValue("backend", out var backend) || !Uri.TryCreate(backend, UriKind.Absolute, out var backendUri)
    || !settings.TryGetValue("port", out var portText) || !int.TryParse(portText, out var port))
{
    Console.Error.WriteLine("usage: AseGateway.ForwardingFloor --backend http://127.0.0.1:5000/ --port 8000 [--model bytes|http-context]");
    return 2;
}

var model = settings.GetValueOrDefault("model", "bytes");
if (model is not ("bytes" or "http-context"))
{
    Console.Error.WriteLine($"--model is bytes or http-context, not {model}");
    return 2;
}

if (!EventLoopTransport.IsEnabled(requested: true))
{
    Console.Error.WriteLine("the event loops run on Linux only; the floor measures them");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var loopEndpoints = new EventLoopEndpoints();
EventLoopTransport.Add(builder.Services, loopEndpoints);
builder.Services.AddSingleton(new FloorOptions(HttpContextModel: model == "http-context"));
builder.Services.AddSingleton(services => new UpstreamPool(backendUri, TimeProvider.System, services.GetRequiredService<EventLoopGroup>()));
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen =>
{
    loopEndpoints.Add(listen);
    listen.Protocols = HttpProtocols.Http1;
    listen.UseConnectionHandler<ForwardingFloorHandler>();
}));

await builder.Build().RunAsync();
return 0;
