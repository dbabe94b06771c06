using System.Net;

namespace AseGateway.Observability;

/// <summary>
/// What the request path hands to the writer: references to strings the request already holds and a few numbers,
/// copied by value into the queue. Nothing here is formatted until the background writer takes it.
/// </summary>
internal record struct AccessLogEntry
{
    /// <summary>The settings current when the request started: the writer opens or switches files by them.</summary>
    public AccessLogModel Settings;

    /// <summary>When the request completed (UTC).</summary>
    public DateTime Time;
    public string? SiteName;
    public string Method;
    public string? UriStem;
    public string? UriQuery;
    public int ServerPort;
    public IPAddress? ClientAddress;
    public string? UserAgent;
    public string? Cookie;
    public string? Referer;
    public string? Host;
    public int Status;
    public int SubStatus;
    public int Win32Status;
    public long SentBytes;
    public long ReceivedBytes;

    /// <summary>Stopwatch ticks from the first byte the gateway saw of the request to the end of its answer.</summary>
    public long ElapsedTicks;

    /// <summary>Not a request: tells the writer the settings changed (a reload), so it can close or switch files now.</summary>
    public bool IsSettingsChange;
}
