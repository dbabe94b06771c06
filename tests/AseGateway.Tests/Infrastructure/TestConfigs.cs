namespace AseGateway.Tests.Infrastructure;

/// <summary>Configuration files for tests: real JSON, as a user would write it, on free loopback ports.</summary>
public static class TestConfigs
{
    public const string AppHost = "web.contoso.test";

    /// <summary>The admin API key <see cref="WithApiKey"/> configures.</summary>
    public const string ApiKey = "test-admin-key";

    /// <summary>The SHA-256 of <see cref="ApiKey"/>, as a configuration file stores it.</summary>
    public static string ApiKeySha256 { get; } = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(ApiKey)));

    /// <summary>Gives the management listener an admin key (<see cref="ApiKey"/>), stored as its SHA-256.</summary>
    public static string WithApiKey(string json)
    {
        var hash = ApiKeySha256;
        return json.Replace(
            "\"management\": { \"address\": \"127.0.0.1\", \"port\": 0 }",
            $"\"management\": {{ \"address\": \"127.0.0.1\", \"port\": 0, \"apiKeys\": [ {{ \"name\": \"test\", \"sha256\": \"{hash}\" }} ] }}");
    }

    /// <summary>The configs' one plain listener, as they write it: what <see cref="WithH2c"/> and <see cref="WithHttps"/> replace.</summary>
    private const string PlainListeners = "\"listeners\": [ { \"name\": \"http\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http\" } ]";

    /// <summary>Adds an HTTP/2 prior-knowledge listener (h2c, free loopback port, named "h2c") next to the plain one.</summary>
    public static string WithH2c(string json) => json.Replace(
        PlainListeners,
        "\"listeners\": [ { \"name\": \"http\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http\" }, { \"name\": \"h2c\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http2\" } ]");

    /// <summary>Adds an HTTPS listener (free loopback port, named "https") with the given <c>tls.certificates</c> JSON array.</summary>
    public static string WithHttps(string json, string certificates) => json.Replace(
        PlainListeners,
        $$"""
        "listeners": [
          { "name": "http", "address": "127.0.0.1", "port": 0, "protocol": "Http" },
          { "name": "https", "address": "127.0.0.1", "port": 0, "protocol": "Https" } ],
        "tls": { "certificates": {{certificates}} }
        """);

    /// <summary>One app ("web", answering on <see cref="AppHost"/> and web.ase.test) on a static pool whose workers are the backends.</summary>
    public static string Static(
        IReadOnlyList<TestBackend> backends,
        string loadBalancing = "RoundRobin",
        bool affinity = false,
        string? healthCheckPath = "/healthz",
        int intervalSeconds = 1,
        int maxPingFailures = 2,
        int maxUnhealthyPercent = 50,
        string trustedForwarders = "[]")
    {
        var workers = string.Join(", ", backends.Select(b => $$"""{ "address": "{{b.Url}}" }"""));
        var health = healthCheckPath is null ? string.Empty : $"\"healthCheckPath\": \"{healthCheckPath}\",";
        return $$"""
            {
              "name": "test-ase",
              "dnsSuffix": "ase.test",
              "frontEnd": {
                "listeners": [ { "name": "http", "address": "127.0.0.1", "port": 0, "protocol": "Http" } ],
                "trustedForwarders": {{trustedForwarders}}
              },
              "healthCheck": { "intervalSeconds": {{intervalSeconds}}, "timeoutSeconds": 1, "maxPingFailures": {{maxPingFailures}}, "maxUnhealthyPercent": {{maxUnhealthyPercent}} },
              "workerPools": [ { "name": "WP1", "workerSize": "Small", "workerCount": {{backends.Count}}, "workers": [ {{workers}} ] } ],
              "plans": [ { "name": "web-plan", "workerPool": "WP1", "instanceCount": {{backends.Count}} } ],
              "apps": [
                {
                  "name": "web",
                  "plan": "web-plan",
                  "hostNames": [ "{{AppHost}}" ],
                  {{health}}
                  "clientAffinityEnabled": {{(affinity ? "true" : "false")}},
                  "loadBalancing": "{{loadBalancing}}"
                }
              ],
              "management": { "address": "127.0.0.1", "port": 0 }
            }
            """;
    }
}
