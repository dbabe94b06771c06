using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AseGateway.Configuration;

namespace AseGateway.Tls;

/// <summary>Loads listener certificates from PFX or PEM files; failures are configuration errors with a path.</summary>
internal static class ListenerCertificateLoader
{
    /// <summary>
    /// Loads the certificate from the bytes its files held when they were read for the configuration's fingerprint, so
    /// the certificate is what the fingerprint and the reuse check describe even if a renewal rewrites the files in
    /// between (and each file is read once). Without those bytes (a file could not be read), from the files, which
    /// reports why.
    /// </summary>
    public static X509Certificate2? TryLoad(CertificateConfig config, string baseDirectory, string path, List<ConfigError> errors, byte[]? certificateBytes = null, byte[]? keyBytes = null)
    {
        var file = Path.GetFullPath(config.Path!, baseDirectory);
        var fromBytes = certificateBytes is not null && (config.KeyPath is null || keyBytes is not null);
        try
        {
            if (config.KeyPath is { } keyPath)
            {
                return fromBytes
                    ? X509Certificate2.CreateFromPem(Encoding.UTF8.GetString(certificateBytes!), Encoding.UTF8.GetString(keyBytes!))
                    : X509Certificate2.CreateFromPemFile(file, Path.GetFullPath(keyPath, baseDirectory));
            }

            if (fromBytes ? certificateBytes.AsSpan().StartsWith("-----BEGIN"u8) : IsPem(file))
            {
                errors.Add(new ConfigError($"{path}.keyPath", "a PEM certificate needs keyPath naming its private key file"));
                return null;
            }

            var certificate = fromBytes
                ? X509CertificateLoader.LoadPkcs12(certificateBytes!, Password(config))
                : X509CertificateLoader.LoadPkcs12FromFile(file, Password(config));
            if (!certificate.HasPrivateKey)
            {
                errors.Add(new ConfigError($"{path}.path", $"'{config.Path}' holds no private key"));
                certificate.Dispose();
                return null;
            }

            return certificate;
        }
        catch (CryptographicException ex)
        {
            errors.Add(new ConfigError($"{path}.path", $"cannot load '{config.Path}': {ex.Message.TrimEnd('.')} (wrong password or not a certificate?)"));
        }
        catch (IOException ex)
        {
            errors.Add(new ConfigError($"{path}.path", $"cannot read '{config.Path}': {ex.Message}"));
        }

        return null;
    }

    /// <summary>The PFX password, read from the environment when a certificate is loaded; never stored in the snapshot or logged.</summary>
    public static string? Password(CertificateConfig config) =>
        config.PasswordEnvironmentVariable is { } variable ? Environment.GetEnvironmentVariable(variable) : null;

    private static bool IsPem(string file)
    {
        Span<byte> start = stackalloc byte[10];
        using var stream = File.OpenRead(file);
        var read = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        return start[..read].SequenceEqual("-----BEGIN"u8);
    }
}
