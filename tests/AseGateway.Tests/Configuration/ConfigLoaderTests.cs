using System.Text;
using AseGateway.Configuration;

namespace AseGateway.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    private const string Valid = """
        {
          // comments and trailing commas are fine in a hand-edited file
          "name": "contoso-ase",
          "dnsSuffix": "localhost",
          "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" }, ] },
          "workerPools": [
            { "name": "WP1", "workerSize": "Small", "workerCount": 2 },
            { "name": "WP2", "workerCount": 2, "workers": [ { "address": "http://10.0.2.4:80" }, { "address": "http://10.0.2.5:80" } ] }
          ],
          "plans": [ { "name": "dev", "workerPool": "WP1", "instanceCount": 2 }, { "name": "prod", "workerPool": "WP2", "instanceCount": 2 } ],
          "apps": [
            { "name": "blog", "plan": "dev", "hostNames": [ "shop.contoso.com" ], "run": { "command": "dotnet" } },
            { "name": "shop", "plan": "prod", "hostNames": [ "www.contoso.com" ], "loadBalancing": "RoundRobin" }
          ]
        }
        """;

    [Fact]
    public void Load_ValidFile_HasNoErrors()
    {
        var result = Load(Valid);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.Equal(2, result.Config!.Apps!.Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t ")]
    [InlineData("\uFEFF")]
    public void Load_EmptyFile_IsAnError(string content)
    {
        var error = Assert.Single(Load(content).Errors);

        Assert.Equal(new ConfigError("$", "the file is empty"), error);
    }

    [Fact]
    public void Load_Null_IsAnError() => Assert.Equal("$", Assert.Single(Load("null").Errors).Path);

    [Fact]
    public void Load_ByteOrderMark_IsAccepted()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(Valid)).ToArray();

        Assert.True(ConfigLoader.Load(bytes, "test", AppContext.BaseDirectory).IsValid);
    }

    [Fact]
    public void Load_TruncatedFile_IsInvalidJsonWithLine()
    {
        var error = Assert.Single(Load(Valid[..(Valid.Length / 2)]).Errors);

        Assert.StartsWith("invalid JSON (line ", error.Message);
    }

    [Fact]
    public void Load_UnknownProperty_NamesItWithPath()
    {
        var error = Assert.Single(Load(Valid.Replace("\"plan\": \"dev\",", "\"plan\": \"dev\", \"colour\": \"blue\",")).Errors);

        Assert.Contains("unknown property 'colour'", error.Message);
        Assert.StartsWith("apps[0]", error.Path);
    }

    [Theory]
    [InlineData("\"port\": 8080", "\"port\": \"8080\"", "expected a whole number")]
    [InlineData("\"protocol\": \"Http\"", "\"protocol\": \"Gopher\"", "expected one of: Http, Https")]
    [InlineData("\"workerSize\": \"Small\"", "\"workerSize\": \"Huge\"", "expected one of: Small, Medium, Large")]
    [InlineData("\"name\": \"contoso-ase\",", "\"name\": \"contoso-ase\", \"name\": \"again\",", "appears more than once")]
    public void Load_WrongValue_SaysWhatWasExpected(string from, string to, string expected)
    {
        var error = Assert.Single(Load(Valid.Replace(from, to)).Errors);

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Validate_ManyProblems_ReportsEveryOneWithItsPath()
    {
        const string broken = """
            {
              "name": "contoso-ase",
              "dnsSuffix": "localhost",
              "frontEnd": {
                "listeners": [ { "name": "https", "port": 70000, "protocol": "Https" } ],
                "trustedForwarders": [ "10.0.0.0/33" ]
              },
              "workerPools": [
                { "name": "WP1", "workerSize": "Small", "workerCount": 2 },
                { "name": "WP2", "workerCount": 2, "workers": [ { "address": "http://10.0.2.4:80" }, { "address": "http://10.0.2.5:80" } ] }
              ],
              "plans": [
                { "name": "ghost", "workerPool": "WP9", "instanceCount": 1 },
                { "name": "dev", "workerPool": "WP1", "instanceCount": 3 },
                { "name": "prod", "workerPool": "WP2", "instanceCount": 2 }
              ],
              "apps": [
                { "name": "blog", "plan": "dev", "hostNames": [ "shop.contoso.com" ], "healthCheck": { "maxPingFailures": 1 } },
                { "name": "shop", "plan": "prod", "hostNames": [ "shop.contoso.com" ], "loadBalancing": "Fastest", "run": { "command": "dotnet" } }
              ],
              "management": { "port": 70000 }
            }
            """;
        var errors = Load(broken).Errors.Select(e => e.ToString()).ToList();

        Assert.Contains("apps[1].hostNames[0]: 'shop.contoso.com' is already used by app 'blog'", errors);
        Assert.Contains(errors, e => e.StartsWith("apps[1].loadBalancing: unknown load-balancing policy 'Fastest'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("apps[1].run: the app's plan is on a static worker pool", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("apps[0].run: the app's plan is on a process worker pool", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("apps[0].healthCheck.maxPingFailures: must be between 2 and 10", StringComparison.Ordinal));
        Assert.Contains("plans[1].instanceCount: worker pool 'WP1' has 2 workers but its plans (dev) need 3", errors);
        Assert.Contains("plans[0].workerPool: there is no worker pool named 'WP9'", errors);
        Assert.Contains("frontEnd.listeners[0].port: 70000 is not a TCP port (0-65535)", errors);
        Assert.Contains("frontEnd.tls.certificates: an Https listener needs at least one certificate", errors);
        Assert.Contains("frontEnd.trustedForwarders[0]: '10.0.0.0/33' is not an IP address or CIDR prefix", errors);
        Assert.Contains("management.port: 70000 is not a TCP port (0-65535)", errors);
    }

    [Fact]
    public void Validate_PoolRules_FourPoolsAndTooManyWorkers()
    {
        var pools = string.Join(",", Enumerable.Range(1, 4).Select(i => $$"""{ "name": "P{{i}}", "workerCount": 20 }"""));
        var errors = Load(Valid.Replace("\"workerPools\": [", $"\"workerPools\": [ {pools},")).Errors.Select(e => e.ToString()).ToList();

        Assert.Contains("workerPools: an environment has at most 3 worker pools, not 6", errors);
        Assert.Contains(errors, e => e.StartsWith("workerPools: the pools have 84 workers in all, more than the environment's limit of 50", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ManagementPortOnAPublicListener_IsAnError()
    {
        var errors = Load(Valid.Replace("\"plans\": [", "\"management\": { \"port\": 8080 }, \"plans\": [")).Errors;

        Assert.Contains(errors, e => e.Path == "management.port" && e.Message.Contains("never shares a public listener", StringComparison.Ordinal));
    }

    [Fact]
    public void Hash_IsTheSha256OfTheExactBytes()
    {
        Assert.Equal(Load(Valid).Sha256, Load(Valid).Sha256);
        Assert.NotEqual(Load(Valid).Sha256, Load(Valid + " ").Sha256);
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ConfigLoader.Hash([]));
    }

    private static ConfigLoadResult Load(string json) => ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "test", AppContext.BaseDirectory);
}
