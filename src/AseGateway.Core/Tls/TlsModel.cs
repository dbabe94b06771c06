using System.Collections.Frozen;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using AseGateway.Configuration;

namespace AseGateway.Tls;

/// <summary>One loaded certificate and the host names it serves; <paramref name="Source"/> is what it was loaded from.</summary>
internal sealed record CertificateEntry(string Path, X509Certificate2 Certificate, SslStreamCertificateContext Context, IReadOnlyList<string> DnsNames, CertificateSource? Source);

/// <summary>The full paths of a certificate's files, and a SHA-256 over their bytes and its password.</summary>
internal sealed record CertificateSource(string CertificatePath, string? KeyPath, string ContentSha256);

/// <summary>
/// TLS for one snapshot: the certificates by name, and ready-made handshake options per certificate (with and
/// without asking for a client certificate). Chosen per connection from the SNI name: exact name, then wildcard,
/// then the default certificate. Built in the control plane; a handshake only looks things up.
/// </summary>
internal sealed class TlsModel
{
    /// <summary>Mozilla's "intermediate" profile: AEAD ciphers with forward secrecy only (no CBC, no RSA key exchange).</summary>
    private static readonly TlsCipherSuite[] IntermediateCipherSuites =
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    private readonly FrozenDictionary<string, int> _exact;
    private readonly FrozenDictionary<string, int> _wildcard;
    private readonly int _default;
    private readonly SslServerAuthenticationOptions[] _plain;
    private readonly SslServerAuthenticationOptions[] _askClientCertificate;
    private readonly FrozenDictionary<string, bool> _clientCertificateHosts;
    private readonly string[] _clientCertificateWildcards;

    public TlsModel(IReadOnlyList<CertificateEntry> entries, int defaultIndex, SslProtocols protocols, bool http2, IReadOnlyList<string> clientCertificateHosts, string fingerprint)
    {
        Entries = entries;
        Fingerprint = fingerprint;
        _default = defaultIndex;
        var exact = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var wildcard = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < entries.Count; i++)
        {
            foreach (var name in entries[i].DnsNames)
            {
                // First listed certificate wins a name two certificates share.
                if (name.StartsWith("*.", StringComparison.Ordinal))
                {
                    wildcard.TryAdd(name[2..], i);
                }
                else
                {
                    exact.TryAdd(name, i);
                }
            }
        }

        _exact = exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _wildcard = wildcard.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        var hosts = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
        var wildcards = new List<string>();
        foreach (var host in clientCertificateHosts)
        {
            if (host.StartsWith("*.", StringComparison.Ordinal))
            {
                wildcards.Add(host[1..]);
            }
            else
            {
                hosts[host] = true;
            }
        }

        _clientCertificateHosts = hosts.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _clientCertificateWildcards = [.. wildcards];
        // The suites are enforced in two ways. With a CipherSuitesPolicy, .NET builds a fresh OpenSSL context for every
        // handshake and keeps no session cache (it caches a context per certificate only when no policy is set): on
        // loopback a full TLS 1.3 handshake plus one request cost the gateway ~885 µs of CPU with the policy and ~600
        // without (nginx ~420), and no client could resume. So hosts that do not ask for a client certificate get no
        // policy: their context is cached and resumes sessions, and TlsSessionMiddleware closes a connection
        // whose negotiated suite is not one of IntermediateCipherSuites before it serves anything. Without a policy
        // .NET's own list adds only the ECDHE CBC-SHA2 suites on TLS 1.2 (OpenSSL prefers the server's order, GCM
        // first, so only a client offering nothing better gets one, and is then closed) and drops CHACHA20 on TLS 1.2.
        // Hosts that ask for a client certificate keep the policy, and with it no resumption: a session resumed from a
        // host that did not ask would arrive without the certificate the app requires.
        var cipherSuites = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? new CipherSuitesPolicy(IntermediateCipherSuites) : null;
        List<SslApplicationProtocol> alpn = http2 ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http11];
        _plain = new SslServerAuthenticationOptions[entries.Count];
        _askClientCertificate = new SslServerAuthenticationOptions[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            _plain[i] = Options(entries[i], protocols, cipherSuites: null, alpn, askClientCertificate: false);
            _askClientCertificate[i] = Options(entries[i], protocols, cipherSuites, alpn, askClientCertificate: true);
        }
    }

    public IReadOnlyList<CertificateEntry> Entries { get; }

    /// <summary>Whether a negotiated suite is one of the profile's.</summary>
    public static bool IsAllowed(TlsCipherSuite suite) => Array.IndexOf(IntermediateCipherSuites, suite) >= 0;

    /// <summary>SHA-256 over the certificate files' bytes: a reload recompiles when a file changed though the config did not.</summary>
    public string Fingerprint { get; }

    public CertificateEntry Select(string? serverName) => Entries[Index(serverName)];

    /// <summary>The certificate loaded from <paramref name="source"/>, for a reload to take instead of loading it again.</summary>
    public CertificateEntry? Find(CertificateSource source)
    {
        foreach (var entry in Entries)
        {
            if (source.Equals(entry.Source))
            {
                return entry;
            }
        }

        return null;
    }

    /// <summary>The handshake options for a connection that asked for <paramref name="serverName"/> (SNI).</summary>
    public SslServerAuthenticationOptions OptionsFor(string? serverName)
    {
        var index = Index(serverName);
        return serverName is not null && WantsClientCertificate(serverName) ? _askClientCertificate[index] : _plain[index];
    }

    private int Index(string? serverName)
    {
        if (string.IsNullOrEmpty(serverName))
        {
            return _default;
        }

        if (_exact.TryGetValue(serverName, out var index))
        {
            return index;
        }

        var dot = serverName.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && _wildcard.TryGetValue(serverName[(dot + 1)..], out index) ? index : _default;
    }

    private bool WantsClientCertificate(string serverName)
    {
        if (_clientCertificateHosts.ContainsKey(serverName))
        {
            return true;
        }

        foreach (var suffix in _clientCertificateWildcards)
        {
            if (serverName.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5359", Justification = "Client certificates are forwarded to the app unvalidated, as App Service does; the app decides.")]
    private static SslServerAuthenticationOptions Options(CertificateEntry entry, SslProtocols protocols, CipherSuitesPolicy? cipherSuites, List<SslApplicationProtocol> alpn, bool askClientCertificate) => new()
    {
        ServerCertificateContext = entry.Context,
        EnabledSslProtocols = protocols,
        CipherSuitesPolicy = cipherSuites,
        ApplicationProtocols = alpn,
        AllowRenegotiation = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,

        // Asked for, never required at TLS level: App Service forwards whatever the client sends and does not
        // validate it; "Required" is enforced per request so that exclusion paths work.
        ClientCertificateRequired = askClientCertificate,
        RemoteCertificateValidationCallback = askClientCertificate ? AcceptAny : null,
    };

    private static bool AcceptAny(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) => true;
}
