using System.Net;
using AseGateway.Configuration;
using AseGateway.Networking;

namespace AseGateway.Nsg;

/// <summary>Turns the validated NSG section into an <see cref="NsgModel"/>, appending Azure's default inbound rules.</summary>
internal static class NsgCompiler
{
    public static NsgModel? Compile(NetworkSecurityGroupConfig? config)
    {
        if (config is null)
        {
            return null;
        }

        var tags = ResolveTags(config);
        var rules = new List<NsgRule>();
        foreach (var rule in config.SecurityRules ?? [])
        {
            var sources = new List<(string, IReadOnlyList<(UInt128, UInt128)>)>();
            foreach (var source in rule.SourceAddressPrefixes ?? [rule.SourceAddressPrefix!])
            {
                sources.Add((source, Ranges(source, tags)));
            }

            var ports = new List<PortRange>();
            foreach (var text in rule.DestinationPortRanges ?? [rule.DestinationPortRange!])
            {
                if (PortRange.TryParse(text, out var range))
                {
                    ports.Add(range);
                }
            }

            rules.Add(new NsgRule(rule.Name!, rule.Priority!.Value, rule.Access!.Value, rule.Description, false, sources, ports, NsgProtocols.MatchesTcp(rule.Protocol)));
        }

        // Azure's defaults, in Azure's priorities: the virtual network and the load balancer in, everything else out.
        rules.Add(Default("AllowVNetInBound", 65000, SecurityRuleAccess.Allow, ServiceTags.VirtualNetwork, tags));
        rules.Add(Default("AllowAzureLoadBalancerInBound", 65001, SecurityRuleAccess.Allow, ServiceTags.AzureLoadBalancer, tags));
        rules.Add(Default("DenyAllInBound", 65500, SecurityRuleAccess.Deny, "*", tags));
        rules.Sort(static (a, b) => a.Priority.CompareTo(b.Priority));
        return new NsgModel([.. rules]);
    }

    /// <summary>Every tag as ranges on the address line; Internet is computed as everything outside VirtualNetwork.</summary>
    internal static Dictionary<string, IReadOnlyList<(UInt128 First, UInt128 Last)>> ResolveTags(NetworkSecurityGroupConfig? config)
    {
        var tags = new Dictionary<string, IReadOnlyList<(UInt128, UInt128)>>(StringComparer.OrdinalIgnoreCase);
        var defined = config?.ServiceTags ?? [];
        tags[ServiceTags.VirtualNetwork] = Prefixes((IEnumerable<string>?)Lookup(defined, ServiceTags.VirtualNetwork) ?? ServiceTags.DefaultVirtualNetwork);
        tags[ServiceTags.AzureLoadBalancer] = Prefixes((IEnumerable<string>?)Lookup(defined, ServiceTags.AzureLoadBalancer) ?? ServiceTags.DefaultAzureLoadBalancer);
        foreach (var (name, prefixes) in defined)
        {
            tags[name] = Prefixes(prefixes ?? []);
        }

        tags[ServiceTags.Internet] = Complement(tags[ServiceTags.VirtualNetwork]);
        return tags;
    }

    internal static IReadOnlyList<(UInt128, UInt128)> Ranges(string source, Dictionary<string, IReadOnlyList<(UInt128 First, UInt128 Last)>> tags)
    {
        if (source is "*" or "Any")
        {
            return [(UInt128.Zero, UInt128.MaxValue)];
        }

        if (tags.TryGetValue(source, out var tagged))
        {
            return tagged;
        }

        return Prefixes([source]);
    }

    private static NsgRule Default(string name, int priority, SecurityRuleAccess access, string source, Dictionary<string, IReadOnlyList<(UInt128, UInt128)>> tags) =>
        new(name, priority, access, "Azure default rule", true, [(source, Ranges(source, tags))], [PortRange.All], true);

    private static string[]? Lookup(Dictionary<string, string[]> tags, string name)
    {
        foreach (var (key, value) in tags)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>Addresses and CIDR prefixes as ranges on the address line (unparsable entries were refused at validation).</summary>
    internal static List<(UInt128, UInt128)> Prefixes(IEnumerable<string> prefixes)
    {
        var ranges = new List<(UInt128, UInt128)>();
        foreach (var text in prefixes)
        {
            if (NetworkParsing.TryParsePrefix(text, out var network))
            {
                ranges.Add(AddressSpace.ToRange(network));
            }
        }

        return ranges;
    }

    private static List<(UInt128, UInt128)> Complement(IReadOnlyList<(UInt128 First, UInt128 Last)> ranges)
    {
        var sorted = new List<(UInt128 First, UInt128 Last)>(ranges);
        sorted.Sort(static (a, b) => a.First.CompareTo(b.First));
        var result = new List<(UInt128, UInt128)>();
        var next = UInt128.Zero;
        var done = false;
        foreach (var (first, last) in sorted)
        {
            if (first > next)
            {
                result.Add((next, first - 1));
            }

            if (last >= next)
            {
                if (last == UInt128.MaxValue)
                {
                    done = true;
                    break;
                }

                next = last + 1;
            }
        }

        if (!done)
        {
            result.Add((next, UInt128.MaxValue));
        }

        return result;
    }

    /// <summary>For tests and explain: a tag's ranges contain the address.</summary>
    internal static bool Contains(IReadOnlyList<(UInt128 First, UInt128 Last)> ranges, IPAddress address)
    {
        // Indexed, not foreach: an interface's enumerator is a heap object, and this runs per request.
        var key = AddressSpace.ToKey(NetworkParsing.Normalize(address));
        for (var i = 0; i < ranges.Count; i++)
        {
            var (first, last) = ranges[i];
            if (key >= first && key <= last)
            {
                return true;
            }
        }

        return false;
    }
}
