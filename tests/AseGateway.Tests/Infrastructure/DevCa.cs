using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace AseGateway.Tests.Infrastructure;

/// <summary>Clients that trust the repository's development CA (<c>certs/dev/ca.crt</c>) and nothing else.</summary>
internal static class DevCa
{
    /// <summary>An HTTP client that validates the gateway's dev certificates against the dev CA; redirects are returned, not followed.</summary>
    public static HttpClient TrustingClient(X509Certificate2? clientCertificate = null)
    {
        // Held by the trust store for the client's life.
        var ca = X509CertificateLoader.LoadCertificateFromFile(RepoPaths.Combine("certs", "dev", "ca.crt"));
        return new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { ca }, RevocationMode = X509RevocationMode.NoCheck },
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            },
        });
    }
}
