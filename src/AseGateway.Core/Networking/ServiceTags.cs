namespace AseGateway.Networking;

/// <summary>
/// Azure's service tags as this gateway understands them. VirtualNetwork defaults to the private and loopback
/// ranges (a self-hosted front end's "inside"); AzureLoadBalancer is Azure's health-probe address; Internet is
/// every address outside VirtualNetwork. A configuration may redefine VirtualNetwork and AzureLoadBalancer and add
/// its own tags.
/// </summary>
public static class ServiceTags
{
    public const string VirtualNetwork = "VirtualNetwork";
    public const string AzureLoadBalancer = "AzureLoadBalancer";
    public const string Internet = "Internet";

    public static readonly IReadOnlyList<string> BuiltInNames = [VirtualNetwork, AzureLoadBalancer, Internet];

    public static readonly IReadOnlyList<string> DefaultVirtualNetwork =
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7"];

    public static readonly IReadOnlyList<string> DefaultAzureLoadBalancer = ["168.63.129.16/32"];
}

/// <summary>NSG protocol names. The front end accepts TCP only, so only Tcp and * rules can ever match.</summary>
public static class NsgProtocols
{
    private static readonly string[] Known = ["Tcp", "Udp", "Icmp", "Esp", "Ah", "*", "Any"];

    public static bool IsKnown(string protocol) => Array.Exists(Known, k => string.Equals(k, protocol, StringComparison.OrdinalIgnoreCase));

    public static bool MatchesTcp(string? protocol) =>
        protocol is null or "*" || string.Equals(protocol, "Tcp", StringComparison.OrdinalIgnoreCase) || string.Equals(protocol, "Any", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The headers App Service access restrictions can filter on.</summary>
public static class AccessHeaderNames
{
    public const string ForwardedFor = "X-Forwarded-For";
    public const string ForwardedHost = "X-Forwarded-Host";
    public const string AzureFdid = "X-Azure-FDID";
    public const string FdHealthProbe = "X-FD-HealthProbe";

    public static readonly IReadOnlyList<string> All = [ForwardedFor, ForwardedHost, AzureFdid, FdHealthProbe];

    public static bool IsKnown(string name)
    {
        foreach (var known in All)
        {
            if (string.Equals(known, name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>A destination port range as NSG rules write it: <c>443</c>, <c>8000-8999</c> or <c>*</c>.</summary>
public readonly record struct PortRange(int From, int To)
{
    public static readonly PortRange All = new(0, 65535);

    public bool Contains(int port) => port >= From && port <= To;

    public static bool TryParse(string? text, out PortRange range)
    {
        range = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (text is "*" or "Any")
        {
            range = All;
            return true;
        }

        var dash = text.IndexOf('-', StringComparison.Ordinal);
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        if (dash < 0)
        {
            if (int.TryParse(text, System.Globalization.NumberStyles.None, culture, out var port) && port is >= 0 and <= 65535)
            {
                range = new PortRange(port, port);
                return true;
            }

            return false;
        }

        if (int.TryParse(text.AsSpan(0, dash), System.Globalization.NumberStyles.None, culture, out var from)
            && int.TryParse(text.AsSpan(dash + 1), System.Globalization.NumberStyles.None, culture, out var to)
            && from is >= 0 and <= 65535 && to is >= 0 and <= 65535 && from <= to)
        {
            range = new PortRange(from, to);
            return true;
        }

        return false;
    }
}
