using System.Net;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Forwarding;

/// <summary>
/// Finds the client behind trusted forwarders in an X-Forwarded-For chain. Each forwarder appends the address it
/// received from, so the chain is read right to left: trusted hops are skipped and the first untrusted address is
/// the client (anything to its left was written by the client and may be forged).
/// </summary>
internal static class ForwardedForParser
{
    /// <returns>The client address, or null when the chain holds no usable address.</returns>
    public static IPAddress? FindClient(StringValues forwardedFor, IpPrefixSet trusted)
    {
        IPAddress? lastTrusted = null;
        for (var line = forwardedFor.Count - 1; line >= 0; line--)
        {
            var value = forwardedFor[line].AsSpan();
            while (!value.IsEmpty)
            {
                var comma = value.LastIndexOf(',');
                var hop = (comma < 0 ? value : value[(comma + 1)..]).Trim();
                value = comma < 0 ? [] : value[..comma];
                if (hop.IsEmpty)
                {
                    continue;
                }

                if (!TryParseHop(hop, out var address))
                {
                    // A hop we cannot read ends the trusted chain: the last hop we could trust is the best answer.
                    return lastTrusted;
                }

                if (!trusted.Contains(address))
                {
                    return address;
                }

                lastTrusted = address;
            }
        }

        return lastTrusted;
    }

    /// <summary>Accepts <c>1.2.3.4</c>, <c>1.2.3.4:5678</c>, <c>::1</c> and <c>[::1]:5678</c>.</summary>
    internal static bool TryParseHop(ReadOnlySpan<char> hop, out IPAddress address)
    {
        if (IPAddress.TryParse(hop, out address!))
        {
            address = NetworkParsing.Normalize(address);
            return true;
        }

        if (hop.StartsWith('[') && hop.IndexOf(']') is var end and > 1)
        {
            hop = hop[1..end];
        }
        else if (hop.IndexOf(':') is var colon and > 0 && hop.LastIndexOf(':') == colon)
        {
            hop = hop[..colon];
        }
        else
        {
            return false;
        }

        if (IPAddress.TryParse(hop, out address!))
        {
            address = NetworkParsing.Normalize(address);
            return true;
        }

        return false;
    }
}
