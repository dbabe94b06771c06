using System.Net;
using System.Text;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// Issue 8, part 7: the management API's edges. Keys only in headers, the listener on loopback unless asked
/// otherwise, no secret (API key, certificate password, also when read from an environment variable) in any log
/// line, error or API answer, and bodies bounded. (Roles, If-Match and the rest: Management/ManagementApiTests.)
/// </summary>
public sealed class ManagementSecurityTests(ITestOutputHelper output)
{
    private const string PasswordVariable = "ASEGATEWAY_SECRETS_TEST_PFX_PASSWORD";
    private const string WrongPasswordVariable = "ASEGATEWAY_SECRETS_TEST_WRONG_PFX_PASSWORD";
    private const string KeyVariable = "ASEGATEWAY_SECRETS_TEST_API_KEY";
    private const string PfxPassword = "dev-password";
    private const int BodyLimitKb = 16;

    private static readonly string EnvironmentKey = "env-api-key-" + Guid.NewGuid().ToString("N");
    private static readonly string HashedKey = "hashed-api-key-" + Guid.NewGuid().ToString("N");
    private static readonly string WrongKey = "wrong-api-key-" + Guid.NewGuid().ToString("N");
    private static readonly string WrongPassword = "wrong-pfx-password-" + Guid.NewGuid().ToString("N");

    static ManagementSecurityTests()
    {
        Environment.SetEnvironmentVariable(PasswordVariable, PfxPassword);
        Environment.SetEnvironmentVariable(WrongPasswordVariable, WrongPassword);
        Environment.SetEnvironmentVariable(KeyVariable, EnvironmentKey);
    }

    [Fact]
    public async Task KeysOnlyInHeaders_ListenerOnLoopbackByDefault()
    {
        await using var env = await SecretsEnv.StartAsync(output);
        var management = env.Gateway.Server.ManagementUrl;

        var refusals = new (string What, HttpStatusCode Status)[]
        {
            ("no key", await env.StatusAsync(HttpMethod.Get, "/api/environment")),
            ("wrong key", await env.StatusAsync(HttpMethod.Get, "/api/environment", r => r.Headers.Add("X-API-Key", WrongKey))),
            ("wrong bearer", await env.StatusAsync(HttpMethod.Get, "/api/environment", r => r.Headers.Authorization = new("Bearer", WrongKey))),
            ("key in query (api_key)", await env.StatusAsync(HttpMethod.Get, $"/api/environment?api_key={HashedKey}")),
            ("key in query (key)", await env.StatusAsync(HttpMethod.Get, $"/api/environment?key={EnvironmentKey}")),
            ("key in query (code)", await env.StatusAsync(HttpMethod.Get, $"/api/config?code={HashedKey}")),
        };
        var accepted = new (string What, HttpStatusCode Status)[]
        {
            ("X-API-Key (hashed key)", await env.StatusAsync(HttpMethod.Get, "/api/environment", r => r.Headers.Add("X-API-Key", HashedKey))),
            ("Bearer (key from an environment variable)", await env.StatusAsync(HttpMethod.Get, "/api/environment", r => r.Headers.Authorization = new("Bearer", EnvironmentKey))),
        };

        // The data plane has no management endpoint: an API path there is just a path of the app.
        using var viaDataPlane = await env.Gateway.GetAsync(TestConfigs.AppHost, "/api/environment", r => r.Headers.Add("X-API-Key", HashedKey));
        var dataPlaneBody = await viaDataPlane.Content.ReadAsStringAsync();

        var loopback = IPAddress.TryParse(management.Host, out var address) && IPAddress.IsLoopback(address);
        var passed = refusals.All(r => r.Status == HttpStatusCode.Unauthorized) && accepted.All(a => a.Status == HttpStatusCode.OK) && loopback && dataPlaneBody == "b0";
        ReliabilityReport.Row(
            output,
            "management API keys and listener",
            $"{refusals.Count(r => r.Status == HttpStatusCode.Unauthorized)} of {refusals.Length} keyless, wrong-key and query-string calls got 401, {accepted.Count(a => a.Status == HttpStatusCode.OK)} of {accepted.Length} header keys 200; listener on {management.Host} with no address configured; the data plane serves no API",
            passed);
        Assert.All(refusals, r => Assert.True(r.Status == HttpStatusCode.Unauthorized, $"{r.What}: {r.Status}"));
        Assert.All(accepted, a => Assert.True(a.Status == HttpStatusCode.OK, $"{a.What}: {a.Status}"));
        Assert.True(loopback, $"the management listener is on {management.Host}");
        Assert.Equal("b0", dataPlaneBody);
    }

    [Fact]
    public async Task Secrets_NeverAppearInLogsErrorsOrApiAnswers()
    {
        var capture = new LogCapture();
        await using var env = await SecretsEnv.StartAsync(output, capture);
        var answers = new List<string>();

        // Refused calls, the key in the query string among them.
        answers.Add(await env.AnswerAsync(HttpMethod.Get, "/api/environment", r => r.Headers.Add("X-API-Key", WrongKey)));
        answers.Add(await env.AnswerAsync(HttpMethod.Get, "/api/config", r => r.Headers.Authorization = new("Bearer", WrongKey)));
        answers.Add(await env.AnswerAsync(HttpMethod.Get, $"/api/environment?api_key={HashedKey}&key={EnvironmentKey}"));

        // Everything an operator reads.
        foreach (var path in new[] { "/api/config", "/api/config/status", "/api/environment", "/api/workerPools", "/api/plans", "/api/apps", "/api/apps/web/instances", "/api/nsg", "/openapi/v1.json" })
        {
            answers.Add(await env.AnswerAsync(HttpMethod.Get, path, env.Authorize));
        }

        // A configuration whose certificate password (from its environment variable) is wrong: validated, PUT, then
        // saved to the file and reloaded. Each is refused with an error naming the certificate, never the password.
        var (current, etag) = await env.BodyAsync("/api/config");
        var wrong = current.Replace(PasswordVariable, WrongPasswordVariable, StringComparison.Ordinal);
        answers.Add(await env.AnswerAsync(HttpMethod.Post, "/api/config/validate", r => { env.Authorize(r); r.Content = new StringContent(wrong, Encoding.UTF8, "application/json"); }));
        answers.Add(await env.AnswerAsync(HttpMethod.Put, "/api/config", r => { env.Authorize(r); r.Headers.TryAddWithoutValidation("If-Match", etag); r.Content = new StringContent(wrong, Encoding.UTF8, "application/json"); }));
        var refused = ConfigChanges.NextOutcome(env.Gateway, ConfigChangeOutcome.Invalid);
        env.Folder.WriteByRename(wrong);
        await refused.WaitAsync(TimeSpan.FromSeconds(20));
        var status = await env.AnswerAsync(HttpMethod.Get, "/api/config/status", env.Authorize);
        answers.Add(status);
        Assert.Contains("certificate", status, StringComparison.OrdinalIgnoreCase);

        var secrets = new (string What, string Value)[]
        {
            ("certificate password (from an environment variable)", PfxPassword),
            ("wrong certificate password (from an environment variable)", WrongPassword),
            ("API key (stored as SHA-256)", HashedKey),
            ("API key (from an environment variable)", EnvironmentKey),
            ("a wrong key a client sent", WrongKey),
        };
        var lines = capture.Lines.ToList();
        var leaks = new List<string>();
        foreach (var (what, value) in secrets)
        {
            leaks.AddRange(lines.Where(l => l.Contains(value, StringComparison.Ordinal)).Select(l => $"{what} in log: {l}"));
            leaks.AddRange(answers.Where(a => a.Contains(value, StringComparison.Ordinal)).Select(a => $"{what} in an API answer: {a[..Math.Min(a.Length, 300)]}"));
        }

        ReliabilityReport.Row(
            output,
            "secrets in logs and API output",
            $"{lines.Count:N0} log lines (all levels) and {answers.Count} API answers searched for {secrets.Length} secrets (pfx passwords from environment variables, API keys, a wrong key): {leaks.Count} found",
            leaks.Count == 0 && lines.Count > 0);
        Assert.True(leaks.Count == 0, string.Join(Environment.NewLine, leaks.Take(10)));
    }

    [Fact]
    public async Task OversizedPut_Is413_AndNothingIsApplied()
    {
        await using var env = await SecretsEnv.StartAsync(output);
        var (current, etag) = await env.BodyAsync("/api/config");
        var fileBefore = await File.ReadAllTextAsync(env.Folder.FilePath);
        var generation = env.Gateway.Server.Config.Status.Generation;

        // A valid configuration, only too large: padded with whitespace and a new host name past the limit.
        var oversized = current.Replace($"\"{TestConfigs.AppHost}\"", $"\"{TestConfigs.AppHost}\", \"big.contoso.test\"" + new string(' ', (BodyLimitKb + 4) * 1024));
        var withLength = await env.StatusAsync(HttpMethod.Put, "/api/config", r =>
        {
            env.Authorize(r);
            r.Headers.TryAddWithoutValidation("If-Match", etag);
            r.Content = new StringContent(oversized, Encoding.UTF8, "application/json");
        });
        var chunked = await env.StatusAsync(HttpMethod.Put, "/api/config", r =>
        {
            env.Authorize(r);
            r.Headers.TryAddWithoutValidation("If-Match", etag);
            r.Headers.TransferEncodingChunked = true;
            r.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(oversized)));
        });

        var unchanged = env.Gateway.Server.Config.Status.Generation == generation && await File.ReadAllTextAsync(env.Folder.FilePath) == fileBefore;
        using var big = await env.Gateway.GetAsync("big.contoso.test");
        ReliabilityReport.Row(
            output,
            "management body limit",
            $"PUT /api/config of {oversized.Length / 1024} KB over a {BodyLimitKb} KB limit: {(int)withLength} with Content-Length, {(int)chunked} chunked; generation and file {(unchanged ? "unchanged" : "CHANGED")}",
            withLength == HttpStatusCode.RequestEntityTooLarge && chunked == HttpStatusCode.RequestEntityTooLarge && unchanged);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, withLength);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked);
        Assert.True(unchanged, "the oversized configuration was applied");
        Assert.Equal(HttpStatusCode.NotFound, big.StatusCode);
    }

    /// <summary>
    /// A gateway with an HTTPS listener whose PFX password comes from an environment variable, two API keys (one
    /// hashed, one from an environment variable), a management section without an address and a small body limit.
    /// </summary>
    private sealed class SecretsEnv : IAsyncDisposable
    {
        private readonly HttpClient _client = new();
        private readonly Backends _backends;

        private SecretsEnv(Backends backends, ConfigDirectory folder, TestGateway gateway)
        {
            _backends = backends;
            Folder = folder;
            Gateway = gateway;
        }

        public ConfigDirectory Folder { get; }

        public TestGateway Gateway { get; }

        public static async Task<SecretsEnv> StartAsync(ITestOutputHelper output, LogCapture? capture = null)
        {
            var backends = await Backends.StartAsync(1);
            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(HashedKey)));
            var pfx = System.Text.Json.JsonSerializer.Serialize(RepoPaths.Combine("certs", "dev", "localhost.pfx"));
            var json = TestConfigs.WithHttps(TestConfigs.Static(backends.List), $$"""[ { "path": {{pfx}}, "passwordEnvironmentVariable": "{{PasswordVariable}}" } ]""")
                .Replace(
                    "\"management\": { \"address\": \"127.0.0.1\", \"port\": 0 }",
                    $$"""
                    "management": { "port": 0, "maxRequestBodySizeInKb": {{BodyLimitKb}}, "apiKeys": [
                      { "name": "ops", "sha256": "{{hash}}" },
                      { "name": "ci", "environmentVariable": "{{KeyVariable}}" } ] }
                    """);
            var folder = new ConfigDirectory();
            folder.WriteInPlace(json);
            var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output, capture: capture);
            return new SecretsEnv(backends, folder, gateway);
        }

        public void Authorize(HttpRequestMessage request) => request.Headers.Add("X-API-Key", HashedKey);

        public async Task<HttpStatusCode> StatusAsync(HttpMethod method, string path, Action<HttpRequestMessage>? configure = null)
        {
            using var response = await SendAsync(method, path, configure);
            return response.StatusCode;
        }

        public async Task<string> AnswerAsync(HttpMethod method, string path, Action<HttpRequestMessage>? configure = null) =>
            (await ExchangeAsync(method, path, configure)).Text;

        /// <summary>The status, headers and body of the answer as one text to search, and its ETag.</summary>
        public async Task<(string Text, string ETag)> ExchangeAsync(HttpMethod method, string path, Action<HttpRequestMessage>? configure = null)
        {
            using var response = await SendAsync(method, path, configure);
            var body = await response.Content.ReadAsStringAsync();
            return ($"{(int)response.StatusCode}\n{response.Headers}{response.Content.Headers}\n{body}", response.Headers.ETag?.ToString() ?? string.Empty);
        }

        /// <summary>The body alone and its ETag.</summary>
        public async Task<(string Body, string ETag)> BodyAsync(string path)
        {
            using var response = await SendAsync(HttpMethod.Get, path, Authorize);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadAsStringAsync(), response.Headers.ETag?.ToString() ?? string.Empty);
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            await Gateway.DisposeAsync();
            await _backends.DisposeAsync();
            Folder.Dispose();
        }

        private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, Action<HttpRequestMessage>? configure)
        {
            using var request = new HttpRequestMessage(method, new Uri(Gateway.Server.ManagementUrl, path));
            configure?.Invoke(request);
            return await _client.SendAsync(request);
        }
    }
}
