namespace AseGateway.Forwarding;

/// <summary>The headers App Service's front end (ARR) adds for the worker, by their exact names.</summary>
internal static class AppServiceHeaders
{
    public const string ForwardedFor = "X-Forwarded-For";
    public const string ForwardedProto = "X-Forwarded-Proto";
    public const string ForwardedHost = "X-Forwarded-Host";
    public const string ForwardedPrefix = "X-Forwarded-Prefix";
    public const string Forwarded = "Forwarded";
    public const string ArrSsl = "X-ARR-SSL";
    public const string ArrClientCert = "X-ARR-ClientCert";
    public const string OriginalUrl = "X-Original-URL";
    public const string ClientIp = "X-Client-IP";
    public const string ClientPort = "X-Client-Port";
    public const string SiteDeploymentId = "X-Site-Deployment-Id";
    public const string DisableSessionAffinity = "Arr-Disable-Session-Affinity";

    /// <summary>Headers only the front end may set: whatever a client sends under these names is dropped.</summary>
    public static readonly string[] FrontEndOwned = [ArrSsl, ArrClientCert, OriginalUrl, ClientIp, ClientPort, SiteDeploymentId];

    /// <summary>Forwarding headers believed only from trusted forwarders (RFC 7239 <c>Forwarded</c> included).</summary>
    public static readonly string[] ForwarderOwned = [ForwardedHost, ForwardedPrefix, Forwarded];
}
