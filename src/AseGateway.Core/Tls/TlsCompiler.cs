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

    public static TlsModel? Compile(GatewayConfig config, string baseDirectory, DateTimeOffset now, List<ConfigError> errors, List<string> warnings)
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
            Append(fingerprint, entryConfig.Path, baseDirectory);
            Append(fingerprint, entryConfig.KeyPath, baseDirectory);
            var certificate = ListenerCertificateLoader.TryLoad(entryConfig, baseDirectory, path, errors);
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
            var context = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
            entries.Add(new CertificateEntry(entryConfig.Path!, certificate, context, DnsNames(certificate)));
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

    private static void Append(IncrementalHash hash, string? path, string baseDirectory)
    {
        if (path is null)
        {
            return;
        }

        try
        {
            hash.AppendData(File.ReadAllBytes(Path.GetFullPath(path, baseDirectory)));
        }
        catch (IOException)
        {
            hash.AppendData("missing"u8);
        }
        catch (UnauthorizedAccessException)
        {
            hash.AppendData("unreadable"u8);
        }
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
