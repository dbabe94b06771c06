namespace AseGateway.Observability;

/// <summary>
/// sc-substatus and sc-win32-status values, which tell the answers the gateway gave itself from the worker's. Where
/// IIS or ARR has a number for the same case it is used (403.6 IP address rejected, 403.7 client certificate
/// required, 502.3 forwarder connection error, 502.4 no server); the others are the gateway's own, from 10 up.
/// </summary>
internal static class AccessLogSubStatus
{
    /// <summary>The worker answered (or nothing more specific is known).</summary>
    public const int None = 0;

    /// <summary>ARR's 502.3: the request to the worker failed (YARP answers 502, or 504 on a timeout).</summary>
    public const int ForwarderError = 3;

    /// <summary>ARR's 502.4: no instance of the app could take the request (YARP answers 503).</summary>
    public const int NoAvailableInstance = 4;

    /// <summary>IIS's 403.6: an access restriction denied the client's address (or its headers).</summary>
    public const int AccessRestricted = 6;

    /// <summary>IIS's 403.7: the app requires a client certificate and none was sent.</summary>
    public const int ClientCertificateRequired = 7;

    /// <summary>No app is configured for the request's host (404).</summary>
    public const int UnknownHost = 10;

    /// <summary>A WAF rule blocked the request (the policy's block status, 403 by default).</summary>
    public const int WafBlocked = 11;

    /// <summary>The WAF refused a body over the policy's size limits (413).</summary>
    public const int WafBodyTooLarge = 12;

    /// <summary>HTTPS Only: a plain-HTTP request redirected to https (301).</summary>
    public const int HttpsRedirect = 13;

    /// <summary>A malformed header name or value (400).</summary>
    public const int MalformedHeader = 14;

    /// <summary>sc-win32-status: ERROR_NETNAME_DELETED, what IIS logs when the client went away mid-request.</summary>
    public const int Win32ClientDisconnected = 64;

    /// <summary>sc-win32-status: ERROR_WINHTTP_TIMEOUT, as ARR logs a worker that did not answer in time.</summary>
    public const int Win32Timeout = 12002;

    /// <summary>sc-win32-status: ERROR_WINHTTP_CANNOT_CONNECT, as ARR logs a worker it could not connect to.</summary>
    public const int Win32CannotConnect = 12029;

    /// <summary>sc-win32-status: ERROR_WINHTTP_CONNECTION_ERROR, any other failure talking to the worker.</summary>
    public const int Win32ConnectionError = 12030;
}
