using System.Net;
using System.Net.Sockets;

namespace AseGateway;

/// <summary>Parses the address forms users write: a single address or a CIDR prefix, IPv4 or IPv6.</summary>
internal static class NetworkParsing
{
    public static bool TryParsePrefix(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (text.Contains('/'))
        {
            // IPNetwork.TryParse rejects prefixes with host bits set (10.0.0.1/8): that is a typo worth an error.
            return IPNetwork.TryParse(text, out network);
        }

        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }

        address = Normalize(address);
        network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    /// <summary>IPv4-mapped IPv6 peers (::ffff:10.0.0.1, as a dual-stack socket reports them) are IPv4 for every rule.</summary>
    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
