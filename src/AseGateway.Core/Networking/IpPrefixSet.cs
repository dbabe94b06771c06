using System.Net;

namespace AseGateway;

/// <summary>
/// An immutable set of address prefixes, checked per request. Sets here are small (trusted forwarders), so a flat
/// array scan beats any tree; the NSG compiles its own table for thousands of prefixes.
/// </summary>
internal sealed class IpPrefixSet
{
    public static readonly IpPrefixSet Empty = new([]);

    private readonly IPNetwork[] _prefixes;

    public IpPrefixSet(IPNetwork[] prefixes) => _prefixes = prefixes;

    public bool IsEmpty => _prefixes.Length == 0;

    public static IpPrefixSet Parse(IEnumerable<string>? prefixes)
    {
        var list = new List<IPNetwork>();
        foreach (var text in prefixes ?? [])
        {
            if (NetworkParsing.TryParsePrefix(text, out var network))
            {
                list.Add(network);
            }
        }

        return list.Count == 0 ? Empty : new IpPrefixSet([.. list]);
    }

    public bool Contains(IPAddress? address)
    {
        if (address is null || _prefixes.Length == 0)
        {
            return false;
        }

        address = NetworkParsing.Normalize(address);
        foreach (var prefix in _prefixes)
        {
            if (prefix.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
