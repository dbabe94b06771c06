using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Routing;

public sealed class HttpsListenerTests(ITestOutputHelper output)
{
    /// <summary>Adds an Https listener with the development certificate for localhost.</summary>
    internal static string WithHttps(string json)
    {
        Environment.SetEnvironmentVariable("ASEGATEWAY_TEST_PFX_PASSWORD", "dev-password");
        return json.Replace(
            "\"listeners\": [ { \"name\": \"http\", \"address\": \"127.0.0.1\", \"port\": 0, \"protocol\": \"Http\" } ]",
            $$"""
            "listeners": [
              { "name": "http", "address": "127.0.0.1", "port": 0, "protocol": "Http" },
              { "name": "https", "address": "127.0.0.1", "port": 0, "protocol": "Https" } ],
            "tls": { "certificates": [ { "path": "{{RepoPaths.Combine("certs", "dev", "localhost.pfx").Replace("\\", "/")}}", "passwordEnvironmentVariable": "ASEGATEWAY_TEST_PFX_PASSWORD" } ] }
            """);
    }

    /// <summary>The app answers on web.contoso.com and the HTTPS listener serves the dev certificate for *.contoso.com (also the SNI name).</summary>
    internal static string ForContoso(string json) =>
        json.Replace("\"web.contoso.test\"", "\"web.contoso.com\"", StringComparison.Ordinal).Replace("localhost.pfx", "contoso.pfx", StringComparison.Ordinal);

    [Fact]
    public async Task HttpsRequest_RealHandshake_WorkerSeesTlsHeaders()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = WithHttps(TestConfigs.Static(backends.List));
        await using var gateway = await TestGateway.StartAsync(ForContoso(json), output);
        using var client = DevCa.TrustingClient();

        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Server.ListenerUrls["https"]) { Version = HttpVersion.Version20 };
        request.Headers.Host = "web.contoso.com"; // also the SNI name: the dev certificate covers *.contoso.com
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        var headers = backends.List[0].ReceivedHeaders.Single();
        Assert.Equal("https", headers["X-Forwarded-Proto"]);
        Assert.True(headers.ContainsKey("X-ARR-SSL"));
    }

    [Fact]
    public async Task Tls11Client_IsRefused()
    {
        await using var backends = await Backends.StartAsync(1);
        var json = WithHttps(TestConfigs.Static(backends.List));
        await using var gateway = await TestGateway.StartAsync(json, output);
        var url = gateway.Server.ListenerUrls["https"];
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port);
        await using var tls = new SslStream(tcp.GetStream());

#pragma warning disable SYSLIB0039, CA5397, CA5359 // TLS 1.1 on purpose: the gateway must refuse it.
        var attempt = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = SslProtocols.Tls11,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
#pragma warning restore SYSLIB0039, CA5397, CA5359

        await Assert.ThrowsAnyAsync<Exception>(() => attempt);
    }
}
