using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AseGateway.Configuration;

namespace AseGateway.Tls;

/// <summary>Loads and checks the listener certificates of a configuration: the TLS part of a snapshot.</summary>
internal static class TlsCompiler
{
    /// <summary>A certificate this close to expiry is loaded with a warning.</summary>
    public static readonly TimeSpan ExpiryWarning = TimeSpan.FromDays(30);

    /// <param name="previous">
    /// The serving snapshot's TLS, if any: a certificate whose files, key file and password are unchanged is taken
    /// from it instead of being loaded again: a PKCS#12 file's key derivation and the chain build took half of a reload
    /// (timed at the reload API with the perf configuration: 13-15 ms loading it, 6-8 ms keeping it).
    /// </param>
    public static TlsModel? Compile(GatewayConfig config, string baseDirectory, DateTimeOffset now, List<ConfigError> errors, List<string> warnings, TlsModel? previous = null)
    {
        var tls = config.FrontEnd?.Tls;
        var certificates = tls?.Certificates ?? [];
        if (certificates.Length == 0)
        {
            return null;
        }

        var entries = new List<CertificateEntry>();
        var defaultIndex = -1;
        using var fingerprint = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (var i = 0; i < certificates.Length; i++)
        {
            var path = $"frontEnd.tls.certificates[{i}]";
            var entryConfig = certificates[i];
            var certificateBytes = Append(fingerprint, entryConfig.Path, baseDirectory);
            var keyBytes = Append(fingerprint, entryConfig.KeyPath, baseDirectory);
            var source = Source(entryConfig, baseDirectory, certificateBytes, keyBytes);
            var reused = source is null ? null : previous?.Find(source);
            var certificate = reused?.Certificate ?? ListenerCertificateLoader.TryLoad(entryConfig, baseDirectory, path, errors, certificateBytes, keyBytes);
            if (certificate is null)
            {
                continue;
            }

            if (certificate.NotAfter.ToUniversalTime() < now.UtcDateTime)
            {
                errors.Add(new ConfigError($"{path}.path", $"'{entryConfig.Path}' expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}"));
                continue;
            }

            if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
            {
                errors.Add(new ConfigError($"{path}.path", $"'{entryConfig.Path}' is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd}"));
                continue;
            }

            if (certificate.NotAfter.ToUniversalTime() - now.UtcDateTime < ExpiryWarning)
            {
                warnings.Add($"{path}: '{entryConfig.Path}' expires on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}");
            }

            if (entryConfig.Default == true && defaultIndex < 0)
            {
                defaultIndex = entries.Count;
            }

            // The context builds the chain once (intermediates sent with every handshake), not per connection.
            entries.Add(reused is not null
                ? reused with { Path = entryConfig.Path! }
                : new CertificateEntry(entryConfig.Path!, certificate, SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true), DnsNames(certificate), source));
        }

        if (errors.Count > 0 || entries.Count == 0)
        {
            return null;
        }

        var protocols = tls!.MinVersion == TlsVersion.Tls13 ? SslProtocols.Tls13 : SslProtocols.Tls12 | SslProtocols.Tls13;
        return new TlsModel(entries, Math.Max(defaultIndex, 0), protocols, tls.Http2 ?? true, ClientCertificateHosts(config), Convert.ToHexStringLower(fingerprint.GetHashAndReset()));
    }

    /// <summary>The fingerprint of the certificate files a configuration names, without loading them.</summary>
    public static string Fingerprint(GatewayConfig config, string baseDirectory)
    {
        using var fingerprint = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var certificate in config.FrontEnd?.Tls?.Certificates ?? [])
        {
            Append(fingerprint, certificate.Path, baseDirectory);
            Append(fingerprint, certificate.KeyPath, baseDirectory);
        }

        return Convert.ToHexStringLower(fingerprint.GetHashAndReset());
    }

    /// <summary>Adds a file's bytes to <paramref name="hash"/> and returns them; null when there is no such file to read.</summary>
    private static byte[]? Append(IncrementalHash hash, string? path, string baseDirectory)
    {
        if (path is null)
        {
            return null;
        }

        try
        {
            var bytes = File.ReadAllBytes(Path.GetFullPath(path, baseDirectory));
            hash.AppendData(bytes);
            return bytes;
        }
        catch (IOException)
        {
            hash.AppendData("missing"u8);
        }
        catch (UnauthorizedAccessException)
        {
            hash.AppendData("unreadable"u8);
        }

        return null;
    }

    /// <summary>
    /// What a loaded certificate was made from: the files' full paths, and one hash over their bytes and the password
    /// (so that the snapshot holds no password). Null when a file could not be read: nothing is reused then.
    /// </summary>
    private static CertificateSource? Source(CertificateConfig config, string baseDirectory, byte[]? certificateBytes, byte[]? keyBytes)
    {
        if (certificateBytes is null || (config.KeyPath is not null && keyBytes is null))
        {
            return null;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(certificateBytes);
        hash.AppendData(keyBytes ?? []);
        var password = ListenerCertificateLoader.Password(config);
        hash.AppendData(password is null ? [] : System.Text.Encoding.UTF8.GetBytes($"\0{password}"));
        return new CertificateSource(
            Path.GetFullPath(config.Path!, baseDirectory),
            config.KeyPath is { } keyPath ? Path.GetFullPath(keyPath, baseDirectory) : null,
            Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    private static List<string> DnsNames(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
            }
        }

        if (names.Count == 0 && certificate.GetNameInfo(X509NameType.DnsName, forIssuer: false) is { Length: > 0 } commonName)
        {
            names.Add(commonName);
        }

        return names;
    }

    /// <summary>Host names of apps that want a client certificate: only their handshakes ask for one.</summary>
    private static List<string> ClientCertificateHosts(GatewayConfig config)
    {
        var hosts = new List<string>();
        foreach (var app in config.Apps ?? [])
        {
            if (app.ClientCertMode is ClientCertMode.Optional or ClientCertMode.Required)
            {
                hosts.AddRange(app.HostNames ?? []);
                if (config.DnsSuffix is { } suffix)
                {
                    hosts.Add($"{app.Name}.{suffix}");
                }
            }
        }

        return hosts;
    }
}
