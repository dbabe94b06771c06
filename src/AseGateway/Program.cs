using System.CommandLine;
using AseGateway.Cli;
using AseGateway.Cli.Operator;
using AseGateway.Hosting;

var configOption = new Option<FileInfo?>("--config", "-c")
{
    Description = "The configuration file. Default: $ASEGATEWAY_CONFIG, else ./ase.json if it exists, else the embedded quickstart configuration.",
};

var logFormatOption = new Option<ConsoleLogFormat?>("--log-format")
{
    Description = "Console log lines: Simple (readable) or Json (one JSON object a line, for container log collectors). Default: $ASEGATEWAY_LOG_FORMAT, else Simple.",
};

var root = new RootCommand("AseGateway: the front end of an App Service Environment — TLS, access rules, WAF and load balancing over worker pools.");
root.Options.Add(configOption);
root.Options.Add(logFormatOption);
root.SetAction((result, cancellationToken) => GatewayCommands.RunAsync(result.GetValue(configOption), result.GetValue(logFormatOption), cancellationToken));

var validate = new Command("validate", "Check a configuration file and print every error; exit 0 when valid, 2 when not. Starts nothing.");
validate.Options.Add(configOption);
validate.SetAction((result, cancellationToken) => GatewayCommands.ValidateAsync(result.GetValue(configOption), cancellationToken));
root.Subcommands.Add(validate);

var urlOption = new Option<Uri>("--url")
{
    Description = "The gateway's management health endpoint.",
    DefaultValueFactory = _ => new Uri("http://127.0.0.1:9090/healthz"),
};
var healthcheck = new Command("healthcheck", "Probe a running gateway's health endpoint (for container HEALTHCHECKs); exit 0 when healthy.");
healthcheck.Options.Add(urlOption);
healthcheck.SetAction((result, cancellationToken) => GatewayCommands.HealthCheckAsync(result.GetValue(urlOption)!, cancellationToken));
root.Subcommands.Add(healthcheck);

OperatorVerbs.Add(root);

// The gateway handles SIGINT/SIGTERM itself (graceful: close listeners, drain, stop instances); the parser's own
// handler would cut that short.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
