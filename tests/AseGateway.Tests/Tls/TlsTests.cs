using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;

namespace AseGateway.Tests.Tls;

/// <summary>Real TLS handshakes against the gateway's HTTPS listener.</summary>
public sealed class TlsTests(ITestOutputHelper output)
{
    private const string PasswordVariable = "ASEGATEWAY_TEST_PFX_PASSWORD";

    static TlsTests() => Environment.SetEnvironmentVariable(PasswordVariable, "dev-password");

    /// <summary>Two certificates (localhost first, so it is the default) and app settings for TLS tests.</summary>
    private static string Config(TestBackend backend, string certificates, string appExtras = "") => TestConfigs.WithHttps(TestConfigs.Static([backend]), certificates)
        .Replace("\"hostNames\": [ \"web.contoso.test\" ]", "\"hostNames\": [ \"web.contoso.test\", \"www.contoso.com\" ]" + appExtras);

    private static string Cert(string name) => $$"""{ "path": "{{RepoPaths.Combine("certs", "dev", name + ".pfx")}}", "passwordEnvironmentVariable": "{{PasswordVariable}}" }""";

    private static string Both => $"[ {Cert("localhost")}, {Cert("contoso")} ]";

    [Theory]
    [InlineData("www.contoso.com", "contoso.com")]
    [InlineData("contoso.com", "contoso.com")]
    [InlineData("hello.localhost", "localhost")]
    [InlineData("unknown.example", "localhost")]
    [InlineData(null, "localhost")]
    public async Task Handshake_SniChoosesCertificate_ExactThenWildcardThenDefault(string? serverName, string expectedSubject)
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(Config(backend, Both), output);

        var (certificate, _) = await HandshakeAsync(gateway, serverName);

        Assert.Equal(expectedSubject, Name(certificate));
    }

    [Fact]
    public async Task Handshake_OffersH2AndHttp11_NegotiatesTls13OrTls12()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(Config(backend, Both), output);

        var (_, stream) = await HandshakeAsync(gateway, "www.contoso.com", [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]);

        Assert.Equal(SslApplicationProtocol.Http2, stream.NegotiatedApplicationProtocol);
        Assert.True(stream.SslProtocol is System.Security.Authentication.SslProtocols.Tls13 or System.Security.Authentication.SslProtocols.Tls12);
        await stream.DisposeAsync();
    }

    /// <summary>
    /// Pins Mozilla's "intermediate" suites on TLS 1.2. A host that asks for no client certificate handshakes without
    /// a CipherSuitesPolicy, so that .NET caches its OpenSSL context and resumes sessions; .NET's own list then also
    /// accepts the ECDHE CBC-SHA2 suites (and refuses CHACHA20-POLY1305 on TLS 1.2), and the gateway closes such a
    /// connection after the handshake, before it serves a request. See TlsModel.
    /// </summary>
    [Theory]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, false)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, false)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false)]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Tls12_ServesRequestsOnlyOverAeadSuites(TlsCipherSuite offered, bool served)
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(Config(backend, Both), output);

        var status = await GetOverTls12Async(gateway, "www.contoso.com", offered);

        Assert.Equal(served ? "200" : null, status);
    }

    /// <summary>A host that asks for client certificates keeps the policy: the suite is refused in the handshake itself.</summary>
    [Theory]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true)]
    [InlineData(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, false)]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Tls12_ClientCertificateHost_RefusesOtherSuitesInTheHandshake(TlsCipherSuite offered, bool accepted)
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(Config(backend, Both, ", \"clientCertMode\": \"Optional\""), output);

        var handshake = HandshakeAsync(gateway, "www.contoso.com", [SslApplicationProtocol.Http11], System.Security.Authentication.SslProtocols.Tls12, new CipherSuitesPolicy([offered]));

        if (accepted)
        {
            var (_, stream) = await handshake;
            Assert.Equal(offered, stream.NegotiatedCipherSuite);
            await stream.DisposeAsync();
        }
        else
        {
            await Assert.ThrowsAsync<System.Security.Authentication.AuthenticationException>(() => handshake);
        }
    }

    /// <summary>
    /// The gateway ends a TLS connection with close_notify, as nginx does (Kestrel alone disposes the stream without
    /// it): OpenSSL 3 clients otherwise report "unexpected eof while reading", read a body delimited by the close as
    /// truncated, and cannot resume a session they take after that error.
    /// </summary>
    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task ConnectionClose_EndsTheSessionWithCloseNotify(string protocol)
    {
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(Config(backend, Both), output);

        var answer = await OpenSslClient.ConnectAsync(gateway.Server.ListenerUrls["https"], "www.contoso.com", protocol);

        Assert.Contains("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected eof", answer, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("closed", answer, StringComparison.Ordinal); // s_client's word for a close_notify received
    }

    /// <summary>
    /// Sessions resume on hosts that ask for no client certificate (TLS 1.2 session ids and tickets, TLS 1.3
    /// tickets), as nginx's and HAProxy's do by default. A session from such a host is not resumed on a host that
    /// asks for a client certificate, which would then receive none: that host's handshakes are always full.
    /// </summary>
    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Session_ResumesOnPlainHosts_NeverIntoAClientCertificateHost(string protocol)
    {
        await using var backend = await TestBackend.StartAsync("b0");
        var json = Config(backend, Both, ", \"clientCertMode\": \"Optional\"")
            .Replace("\"apps\": [", "\"apps\": [ { \"name\": \"open\", \"plan\": \"web-plan\", \"hostNames\": [ \"open.contoso.com\" ] },", StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(json, output);
        var listener = gateway.Server.ListenerUrls["https"];
        using var folder = new ConfigDirectory();
        var plainSession = Path.Combine(folder.Path, "open.pem");
        var askingSession = Path.Combine(folder.Path, "www.pem");

        var first = await OpenSslClient.ConnectAsync(listener, "open.contoso.com", protocol, sessionOut: plainSession);
        Assert.Equal("New", OpenSslClient.SessionKind(first));
        Assert.Contains("HTTP/1.1 200", first, StringComparison.Ordinal);
        Assert.True(File.Exists(plainSession), first);

        var resumed = await OpenSslClient.ConnectAsync(listener, "open.contoso.com", protocol, sessionIn: plainSession);
        Assert.Equal("Reused", OpenSslClient.SessionKind(resumed));
        Assert.Contains("HTTP/1.1 200", resumed, StringComparison.Ordinal);

        // The same certificate serves www.contoso.com (*.contoso.com), whose app asks for client certificates.
        var crossed = await OpenSslClient.ConnectAsync(listener, "www.contoso.com", protocol, sessionIn: plainSession);
        Assert.Equal("New", OpenSslClient.SessionKind(crossed));

        var asking = await OpenSslClient.ConnectAsync(listener, "www.contoso.com", protocol, sessionOut: askingSession);
        Assert.Equal("New", OpenSslClient.SessionKind(asking));
        if (File.Exists(askingSession))
        {
            Assert.Equal("New", OpenSslClient.SessionKind(await OpenSslClient.ConnectAsync(listener, "www.contoso.com", protocol, sessionIn: askingSession)));
        }
    }

    [Fact]
    public async Task CertificateFileReplaced_NextHandshakeUsesTheNewOne()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        using var folder = new ConfigDirectory();
        var pfx = Path.Combine(folder.Path, "site.pfx");
        File.Copy(RepoPaths.Combine("certs", "dev", "localhost.pfx"), pfx);
        folder.WriteInPlace(Config(backend, $$"""[ { "path": "site.pfx", "passwordEnvironmentVariable": "{{PasswordVariable}}" } ]"""));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);
        Assert.Equal("localhost", Name((await HandshakeAsync(gateway, "www.contoso.com")).Certificate));

        File.Copy(RepoPaths.Combine("certs", "dev", "contoso.pfx"), pfx + ".new");
        File.Move(pfx + ".new", pfx, overwrite: true);
        var result = await gateway.Server.Config.ReloadAsync("certificate renewed");

        Assert.Equal(ConfigChangeOutcome.Applied, result.Outcome);
        Assert.Equal("contoso.com", Name((await HandshakeAsync(gateway, "www.contoso.com")).Certificate));
    }

    [Fact]
    public async Task Reload_UnchangedCertificate_IsTakenFromTheServingSnapshot_AndStillServed()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(Config(backend, Both));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);
        var before = gateway.Server.Snapshots.Current.Tls!;

        folder.WriteInPlace(File.ReadAllText(folder.FilePath).Replace("\"web.contoso.test\"", "\"web.contoso.test\", \"shop.contoso.com\"", StringComparison.Ordinal));
        var result = await gateway.Server.Config.ReloadAsync("apps edited");

        Assert.Equal(ConfigChangeOutcome.Applied, result.Outcome);
        var after = gateway.Server.Snapshots.Current.Tls!;
        Assert.NotSame(before, after);
        Assert.Same(before.Entries[0].Certificate, after.Entries[0].Certificate);
        Assert.Same(before.Entries[1].Context, after.Entries[1].Context);
        Assert.Equal("contoso.com", Name((await HandshakeAsync(gateway, "shop.contoso.com")).Certificate));
    }

    [Fact]
    public void Compile_LoadsAPemPair_AndNamesWhatIsMissingOrBroken()
    {
        // The certificate is loaded from the bytes read for the fingerprint: PEM pairs, PFX files and their errors
        // as before.
        using var folder = new ConfigDirectory();
        File.Copy(RepoPaths.Combine("certs", "dev", "localhost.crt"), Path.Combine(folder.Path, "site.crt"));
        File.Copy(RepoPaths.Combine("certs", "dev", "localhost.key"), Path.Combine(folder.Path, "site.key"));
        File.WriteAllText(Path.Combine(folder.Path, "broken.pfx"), "not a certificate");
        static AseGateway.Configuration.GatewayConfig With(AseGateway.Configuration.CertificateConfig certificate) => new()
        {
            FrontEnd = new AseGateway.Configuration.FrontEndConfig { Tls = new AseGateway.Configuration.TlsConfig { Certificates = [certificate] } },
        };
        var now = DateTimeOffset.UtcNow;

        List<AseGateway.Configuration.ConfigError> errors = [];
        var pair = AseGateway.Tls.TlsCompiler.Compile(With(new() { Path = "site.crt", KeyPath = "site.key" }), folder.Path, now, errors, [])!;
        Assert.Empty(errors);
        Assert.Equal("localhost", Name(pair.Entries[0].Certificate));
        Assert.True(pair.Entries[0].Certificate.HasPrivateKey);

        Assert.Null(AseGateway.Tls.TlsCompiler.Compile(With(new() { Path = "site.crt" }), folder.Path, now, errors, []));
        Assert.Contains(errors, e => e.ToString().StartsWith("frontEnd.tls.certificates[0].keyPath: a PEM certificate needs keyPath", StringComparison.Ordinal));

        errors.Clear();
        Assert.Null(AseGateway.Tls.TlsCompiler.Compile(With(new() { Path = "broken.pfx" }), folder.Path, now, errors, []));
        Assert.Contains(errors, e => e.ToString().StartsWith("frontEnd.tls.certificates[0].path: cannot load 'broken.pfx'", StringComparison.Ordinal));

        errors.Clear();
        Assert.Null(AseGateway.Tls.TlsCompiler.Compile(With(new() { Path = "site.crt", KeyPath = "missing.key" }), folder.Path, now, errors, []));
        Assert.Contains(errors, e => e.ToString().StartsWith("frontEnd.tls.certificates[0].path: cannot read 'site.crt'", StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_ReusesACertificateOnlyWhenItsFilesAndPasswordAreUnchanged()
    {
        using var folder = new ConfigDirectory();
        var pfx = Path.Combine(folder.Path, "site.pfx");
        File.Copy(RepoPaths.Combine("certs", "dev", "localhost.pfx"), pfx);
        const string Variable = "ASEGATEWAY_TEST_REUSE_PASSWORD";
        Environment.SetEnvironmentVariable(Variable, "dev-password");
        var config = new AseGateway.Configuration.GatewayConfig
        {
            FrontEnd = new AseGateway.Configuration.FrontEndConfig
            {
                Tls = new AseGateway.Configuration.TlsConfig { Certificates = [new AseGateway.Configuration.CertificateConfig { Path = "site.pfx", PasswordEnvironmentVariable = Variable }] },
            },
        };
        var now = DateTimeOffset.UtcNow;
        List<AseGateway.Configuration.ConfigError> errors = [];
        var first = AseGateway.Tls.TlsCompiler.Compile(config, folder.Path, now, errors, [])!;

        var same = AseGateway.Tls.TlsCompiler.Compile(config, folder.Path, now, errors, [], first)!;
        Assert.Same(first.Entries[0].Certificate, same.Entries[0].Certificate);
        Assert.Equal(first.Fingerprint, same.Fingerprint);

        // Loaded again from scratch: no previous snapshot, a changed password, a renewed file, another path.
        Assert.NotSame(first.Entries[0].Certificate, AseGateway.Tls.TlsCompiler.Compile(config, folder.Path, now, errors, [])!.Entries[0].Certificate);
        Environment.SetEnvironmentVariable(Variable, "not-the-password");
        Assert.Null(AseGateway.Tls.TlsCompiler.Compile(config, folder.Path, now, errors, [], first));
        Assert.Contains(errors, e => e.ToString().Contains("wrong password", StringComparison.Ordinal));
        Environment.SetEnvironmentVariable(Variable, "dev-password");
        errors.Clear();

        File.Copy(RepoPaths.Combine("certs", "dev", "contoso.pfx"), pfx, overwrite: true);
        var renewed = AseGateway.Tls.TlsCompiler.Compile(config, folder.Path, now, errors, [], first)!;
        Assert.Equal("contoso.com", Name(renewed.Entries[0].Certificate));
        Assert.NotEqual(first.Fingerprint, renewed.Fingerprint);

        File.Copy(pfx, Path.Combine(folder.Path, "copy.pfx"));
        var moved = config with { FrontEnd = config.FrontEnd with { Tls = config.FrontEnd.Tls with { Certificates = [config.FrontEnd.Tls.Certificates[0] with { Path = "copy.pfx" }] } } };
        var fromCopy = AseGateway.Tls.TlsCompiler.Compile(moved, folder.Path, now, errors, [], renewed)!;
        Assert.NotSame(renewed.Entries[0].Certificate, fromCopy.Entries[0].Certificate);
        Assert.Equal("copy.pfx", fromCopy.Entries[0].Path);

        // A reused certificate is still checked against the clock.
        var expired = AseGateway.Tls.TlsCompiler.Compile(config, folder.Path, renewed.Entries[0].Certificate.NotAfter.AddDays(1), errors, [], renewed);
        Assert.Null(expired);
        Assert.Contains(errors, e => e.ToString().Contains("expired on", StringComparison.Ordinal));
        Assert.Empty(errors.FindAll(e => e.ToString().Contains("wrong password", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task HttpsOnly_PlainRequest_Is301ToTheSameUrlOverHttps_HstsOnHttps()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        var json = Config(backend, Both, ", \"httpsOnly\": true, \"hsts\": { \"maxAgeSeconds\": 600, \"includeSubDomains\": true }");
        await using var gateway = await TestGateway.StartAsync(json, output);

        using var plain = await gateway.GetAsync("www.contoso.com", "/cart?item=7");
        Assert.Equal(HttpStatusCode.MovedPermanently, plain.StatusCode);
        Assert.Equal("https://www.contoso.com/cart?item=7", plain.Headers.Location!.OriginalString);
        Assert.Equal(0, backend.RequestCount);

        using var client = DevCa.TrustingClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Server.ListenerUrls["https"]);
        request.Headers.Host = "www.contoso.com";
        using var secure = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, secure.StatusCode);
        Assert.Equal("max-age=600; includeSubDomains", secure.Headers.GetValues("Strict-Transport-Security").Single());
    }

    [Fact]
    public async Task ClientCertificate_Required_ForwardedBase64_MissingIs403_ExcludedPathPasses()
    {
        await using var backend = await TestBackend.StartAsync("b0");
        var json = Config(backend, Both, ", \"clientCertMode\": \"Required\", \"clientCertExclusionPaths\": [ \"/public\" ]");
        await using var gateway = await TestGateway.StartAsync(json, output);
        using var clientCertificate = SelfSigned("CN=client.contoso.com", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        using (var withCertificate = DevCa.TrustingClient(clientCertificate))
        using (var request = new HttpRequestMessage(HttpMethod.Get, gateway.Server.ListenerUrls["https"]))
        {
            request.Headers.Host = "www.contoso.com";
            using var response = await withCertificate.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Convert.ToBase64String(clientCertificate.RawData), backend.ReceivedHeaders.Last()["X-ARR-ClientCert"]);
        }

        using var without = DevCa.TrustingClient();
        using (var request = new HttpRequestMessage(HttpMethod.Get, gateway.Server.ListenerUrls["https"]))
        {
            request.Headers.Host = "www.contoso.com";
            Assert.Equal(HttpStatusCode.Forbidden, (await without.SendAsync(request)).StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Server.ListenerUrls["https"], "/public/logo.png")))
        {
            request.Headers.Host = "www.contoso.com";
            Assert.Equal(HttpStatusCode.OK, (await without.SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public async Task BadCertificates_AreConfigurationErrorsWithPaths()
    {
        using var folder = new ConfigDirectory();
        using var expired = SelfSigned("CN=old.contoso.com", DateTimeOffset.UtcNow.AddYears(-2), DateTimeOffset.UtcNow.AddDays(-1));
        await File.WriteAllBytesAsync(Path.Combine(folder.Path, "expired.pfx"), expired.Export(X509ContentType.Pkcs12, "pw"));
        Environment.SetEnvironmentVariable("ASEGATEWAY_TEST_EXPIRED_PASSWORD", "pw");
        Environment.SetEnvironmentVariable("ASEGATEWAY_TEST_WRONG_PASSWORD", "not-the-password");
        await using var backend = await TestBackend.StartAsync("b0");
        folder.WriteInPlace(Config(backend, $$"""
            [
              { "path": "expired.pfx", "passwordEnvironmentVariable": "ASEGATEWAY_TEST_EXPIRED_PASSWORD" },
              { "path": "{{RepoPaths.Combine("certs", "dev", "contoso.pfx")}}", "passwordEnvironmentVariable": "ASEGATEWAY_TEST_WRONG_PASSWORD" },
              { "path": "missing.pfx" }
            ]
            """));

        var source = new FileConfigSource(folder.FilePath);
        var error = await Assert.ThrowsAsync<AseGateway.Hosting.GatewayConfigurationException>(() => TestGateway.StartAsync(source, output));
        var errors = error.Errors.Select(e => e.ToString()).ToList();

        Assert.Contains("frontEnd.tls.certificates[2].path: the file 'missing.pfx' does not exist", errors);
        Assert.True(errors.Count == 1, string.Join(Environment.NewLine, errors)); // validation stops before loading when a file is missing

        folder.WriteInPlace(File.ReadAllText(folder.FilePath).Replace(", { \"path\": \"missing.pfx\" }", string.Empty).Replace("{ \"path\": \"missing.pfx\" }", string.Empty).Replace("},\n  \n", "}\n"));
        error = await Assert.ThrowsAsync<AseGateway.Hosting.GatewayConfigurationException>(() => TestGateway.StartAsync(source, output));
        errors = error.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.StartsWith("frontEnd.tls.certificates[0].path: 'expired.pfx' expired on", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("frontEnd.tls.certificates[1].path: cannot load", StringComparison.Ordinal) && e.Contains("wrong password", StringComparison.Ordinal));
    }

    /// <summary>The status code of a GET over TLS 1.2 offering only <paramref name="suite"/>; null when the handshake failed or the connection closed unanswered.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static async Task<string?> GetOverTls12Async(TestGateway gateway, string serverName, TlsCipherSuite suite)
    {
        SslStream stream;
        try
        {
            (_, stream) = await HandshakeAsync(gateway, serverName, [SslApplicationProtocol.Http11], System.Security.Authentication.SslProtocols.Tls12, new CipherSuitesPolicy([suite]));
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
        {
            // Refused in the handshake, or closed at its end (the reset can overtake the server's last flight).
            return null;
        }

        await using (stream)
        {
            Assert.Equal(suite, stream.NegotiatedCipherSuite);
            try
            {
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {serverName}\r\nConnection: close\r\n\r\n"));
                var buffer = new byte[64];
                var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                return read >= 12 ? System.Text.Encoding.ASCII.GetString(buffer, 9, 3) : null;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    private static async Task<(X509Certificate2 Certificate, SslStream Stream)> HandshakeAsync(
        TestGateway gateway,
        string? serverName,
        List<SslApplicationProtocol>? alpn = null,
        System.Security.Authentication.SslProtocols protocols = System.Security.Authentication.SslProtocols.None,
        CipherSuitesPolicy? cipherSuites = null)
    {
        var url = gateway.Server.ListenerUrls["https"];
        var tcp = new TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port);
        var stream = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        X509Certificate2? seen = null;
        await stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName ?? string.Empty,
            ApplicationProtocols = alpn,
            EnabledSslProtocols = protocols,
            CipherSuitesPolicy = cipherSuites,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                seen = new X509Certificate2(certificate!);
                return true;
            },
        });
        if (alpn is null)
        {
            await stream.DisposeAsync();
        }

        return (seen!, stream);
    }

    private static string Name(X509Certificate2 certificate) => certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);

    private static X509Certificate2 SelfSigned(string subject, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
