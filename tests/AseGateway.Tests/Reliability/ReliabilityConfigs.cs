using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Reliability;

/// <summary>Gateways for the attack cases: three listeners and the app also answering on "localhost" (the corpora's authority) and "127.0.0.1" (slowhttptest's).</summary>
internal static class ReliabilityConfigs
{
    /// <summary>
    /// Listeners "http" (HTTP/1.1), "h2c" (HTTP/2 with prior knowledge) and "https" (TLS, ALPN h2 and http/1.1), in
    /// front of <paramref name="backends"/>, with <paramref name="limits"/> as frontEnd.limits.
    /// </summary>
    public static string Gateway(IReadOnlyList<TestBackend> backends, string limits)
    {
        Environment.SetEnvironmentVariable("ASEGATEWAY_TEST_PFX_PASSWORD", "dev-password");
        return TestConfigs.Static(backends)
            .Replace($"\"hostNames\": [ \"{TestConfigs.AppHost}\" ]", $"\"hostNames\": [ \"{TestConfigs.AppHost}\", \"localhost\", \"127.0.0.1\" ]")
            .Replace(
                "\"listeners\": [ { \"name\": \"http\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http\" } ],",
                $$"""
                "listeners": [
                  { "name": "http", "address": "127.0.0.1", "port": 0, "protocol": "Http" },
                  { "name": "h2c", "address": "127.0.0.1", "port": 0, "protocol": "Http2" },
                  { "name": "https", "address": "127.0.0.1", "port": 0, "protocol": "Https" } ],
                "tls": { "certificates": [ { "path": "{{RepoPaths.Combine("certs", "dev", "localhost.pfx").Replace("\\", "/")}}", "passwordEnvironmentVariable": "ASEGATEWAY_TEST_PFX_PASSWORD" } ] },
                "limits": {{limits}},
                """);
    }
}
