using System.CommandLine;

namespace AseGateway.Cli.Operator;

/// <summary>The operator verbs: a client of a running gateway's management API.</summary>
internal static class OperatorVerbs
{
    public static void Add(RootCommand root)
    {
        var url = new Option<Uri>("--url")
        {
            Description = $"The management API (default ${OperatorClient.UrlVariable}, else http://127.0.0.1:9090). The key is read from ${OperatorClient.KeyVariable}.",
            DefaultValueFactory = _ => OperatorClient.DefaultUrl,
            Recursive = true,
        };
        var json = new Option<bool>("--json") { Description = "Print JSON for scripts instead of tables.", Recursive = true };

        var status = new Command("status", "The environment and its apps, with available instances.") { url, json };
        status.SetAction((r, _) => Run(r, url, json, c => c.StatusAsync()));

        var pools = new Command("pools", "Worker pools: workers, use, plans, scaling.") { url, json };
        pools.SetAction((r, _) => Run(r, url, json, c => c.PoolsAsync()));

        var scaleName = new Argument<string>("name") { Description = "A worker pool or a plan." };
        var scaleCount = new Argument<int>("count") { Description = "Workers (pool) or instances (plan)." };
        var asPool = new Option<bool>("--pool") { Description = "The name is a worker pool." };
        var asPlan = new Option<bool>("--plan") { Description = "The name is a plan." };
        var scale = new Command("scale", "Scale a worker pool or a plan; returns when accepted.") { scaleName, scaleCount, asPool, asPlan, url, json };
        scale.SetAction((r, _) => Run(r, url, json, c => c.ScaleAsync(r.GetValue(scaleName)!, r.GetValue(scaleCount), r.GetValue(asPool) ? "pool" : r.GetValue(asPlan) ? "plan" : null)));

        var instance = new Argument<string>("instance") { Description = "app/index, e.g. hello/0" };
        var wait = new Option<bool>("--wait") { Description = "Return only when the instance has drained." };
        var drain = new Command("drain", "Take an instance out of rotation (until the next configuration change).") { instance, wait, url, json };
        drain.SetAction((r, _) => Run(r, url, json, c => c.DrainAsync(r.GetValue(instance)!, r.GetValue(wait))));

        var file = new Argument<FileInfo>("file") { Description = "A configuration file." };
        var configGet = new Command("get", "Print the running configuration file.") { url, json };
        configGet.SetAction((r, _) => Run(r, url, json, c => c.ConfigGetAsync()));
        var configValidate = new Command("validate", "Validate a file against the running gateway (nothing changes).") { file, url, json };
        configValidate.SetAction((r, _) => Run(r, url, json, c => c.ConfigValidateAsync(r.GetValue(file)!)));
        var configApply = new Command("apply", "Replace the running configuration (If-Match on the current version).") { file, url, json };
        configApply.SetAction((r, _) => Run(r, url, json, c => c.ConfigApplyAsync(r.GetValue(file)!)));
        var config = new Command("config", "The configuration of a running gateway.") { configGet, configValidate, configApply };

        var source = new Argument<string>("source") { Description = "A client address." };
        var port = new Argument<int>("port") { Description = "A listener port." };
        var explain = new Command("explain", "Which NSG rule decides a connection, and why.") { source, port, url, json };
        explain.SetAction((r, _) => Run(r, url, json, c => c.ExplainAsync(r.GetValue(source)!, r.GetValue(port))));
        var nsg = new Command("nsg", "The network security group.") { explain };

        root.Subcommands.Add(status);
        root.Subcommands.Add(pools);
        root.Subcommands.Add(scale);
        root.Subcommands.Add(drain);
        root.Subcommands.Add(config);
        root.Subcommands.Add(nsg);
    }

    private static async Task<int> Run(ParseResult result, Option<Uri> url, Option<bool> json, Func<OperatorClient, Task<int>> action)
    {
        using var client = new OperatorClient(result.GetValue(url)!, Environment.GetEnvironmentVariable(OperatorClient.KeyVariable), result.GetValue(json), Console.Out, Console.Error);
        return await action(client);
    }
}
