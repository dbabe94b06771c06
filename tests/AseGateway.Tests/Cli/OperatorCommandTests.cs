using AseGateway.Cli.Operator;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Cli;

/// <summary>The operator verbs against a running gateway: output for people and scripts, and exit codes.</summary>
public sealed class OperatorCommandTests(ITestOutputHelper output)
{
    [Fact]
    public async Task StatusPoolsExplain_PrintTablesOrJson()
    {
        await using var env = await Env.StartAsync(output);

        Assert.Equal(0, await env.Run(c => c.StatusAsync()));
        Assert.Contains("environment test-ase", env.Out);
        Assert.Matches(@"web\s+web-plan\s+WP1\s+2\s+2\s+web\.contoso\.test,web\.ase\.test", env.Out);

        Assert.Equal(0, await env.Run(c => c.PoolsAsync()));
        Assert.Matches(@"WP1\s+Small\s+Static\s+3\s+2\s+1\s+web-plan\s+false", env.Out);

        Assert.Equal(0, await env.Run(c => c.PoolsAsync(), json: true));
        Assert.Equal("WP1", System.Text.Json.JsonDocument.Parse(env.Out).RootElement[0].GetProperty("name").GetString());

        Assert.Equal(0, await env.Run(c => c.ExplainAsync("10.1.2.3", 8080)));
        Assert.Contains("ALLOW", env.Out);
    }

    [Fact]
    public async Task Scale_ByPlanOrPoolName_ConflictsAreExitCode3WithTheReason()
    {
        await using var env = await Env.StartAsync(output);

        Assert.Equal(0, await env.Run(c => c.ScaleAsync("web-plan", 3, null)));
        Assert.Contains("plan 'web-plan' scaling to 3: accepted", env.Out);
        await env.Gateway.WaitUntilAsync(() => env.Gateway.Available().Count == 3, TimeSpan.FromSeconds(15), "three instances serve");

        Assert.Equal(OperatorClient.Conflict, await env.Run(c => c.ScaleAsync("WP1", 1, null)));
        Assert.Contains("web-plan (3)", env.Error);
        Assert.Equal(OperatorClient.NotFound, await env.Run(c => c.ScaleAsync("nope", 1, "plan")));
    }

    [Fact]
    public async Task Drain_WaitsAndReports_BadNameIsExitCode2()
    {
        await using var env = await Env.StartAsync(output);

        Assert.Equal(OperatorClient.Invalid, await env.Run(c => c.DrainAsync("web", wait: false)));
        Assert.Equal(0, await env.Run(c => c.DrainAsync("web/1", wait: true)));
        Assert.Contains("web/1: drained", env.Out);
        Assert.Equal(["web/web-plan/0"], env.Gateway.Available());
    }

    [Fact]
    public async Task Config_GetValidateApply()
    {
        await using var env = await Env.StartAsync(output);
        using var folder = new ConfigDirectory();

        Assert.Equal(0, await env.Run(c => c.ConfigGetAsync()));
        var current = env.Out;
        Assert.Contains("\"name\": \"test-ase\"", current);

        folder.WriteInPlace(current.Replace("\"RoundRobin\"", "\"Fastest\""));
        Assert.Equal(OperatorClient.Invalid, await env.Run(c => c.ConfigValidateAsync(new FileInfo(folder.FilePath))));
        Assert.Contains("apps[0].loadBalancing: unknown load-balancing policy 'Fastest'", env.Error);

        folder.WriteInPlace(current.Replace("\"web.contoso.test\"", "\"cli.contoso.test\""));
        Assert.Equal(0, await env.Run(c => c.ConfigApplyAsync(new FileInfo(folder.FilePath))));
        // Two instances, round robin: either may answer.
        Assert.Contains(await env.Gateway.GetBodyAsync("cli.contoso.test"), new[] { "b0", "b1" });
    }

    [Fact]
    public async Task WrongKey_IsExitCode4_Unreachable_IsExitCode1()
    {
        await using var env = await Env.StartAsync(output);

        Assert.Equal(OperatorClient.Unauthorized, await env.Run(c => c.StatusAsync(), key: "wrong"));
        Assert.Contains("401", env.Error);

        using var nowhere = new OperatorClient(new Uri("http://127.0.0.1:9/"), "k", json: false, TextWriter.Null, TextWriter.Null);
        Assert.Equal(OperatorClient.Failed, await nowhere.StatusAsync());
    }

    private sealed class Env : IAsyncDisposable
    {
        private Env(Backends backends, TestGateway gateway)
        {
            Backends = backends;
            Gateway = gateway;
        }

        public Backends Backends { get; }

        public TestGateway Gateway { get; }

        public string Out { get; private set; } = string.Empty;

        public string Error { get; private set; } = string.Empty;

        public static async Task<Env> StartAsync(ITestOutputHelper output)
        {
            var backends = await Routing.Backends.StartAsync(3);
            var json = TestConfigs.WithApiKey(TestConfigs.Static(backends.List)).Replace("\"instanceCount\": 3 ", "\"instanceCount\": 2 ");
            return new Env(backends, await TestGateway.StartAsync(json, output));
        }

        public async Task<int> Run(Func<OperatorClient, Task<int>> action, bool json = false, string key = TestConfigs.ApiKey)
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            using var client = new OperatorClient(Gateway.Server.ManagementUrl, key, json, stdout, stderr);
            var code = await action(client);
            Out = stdout.ToString();
            Error = stderr.ToString();
            return code;
        }

        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            await Backends.DisposeAsync();
        }
    }
}
