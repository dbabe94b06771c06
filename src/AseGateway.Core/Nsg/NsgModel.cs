using System.Collections.Concurrent;
using System.Net;
using AseGateway.Configuration;
using AseGateway.Networking;

namespace AseGateway.Nsg;

/// <summary>One compiled NSG rule (user or default).</summary>
internal sealed record NsgRule(
    string Name,
    int Priority,
    SecurityRuleAccess Access,
    string? Description,
    bool IsDefault,
    IReadOnlyList<(string Source, IReadOnlyList<(UInt128 First, UInt128 Last)> Ranges)> Sources,
    IReadOnlyList<PortRange> Ports,
    bool MatchesTcp);

/// <summary>The rule that decided a connection, and the source text that matched.</summary>
public sealed record NsgDecision(string Rule, int Priority, SecurityRuleAccess Access, bool IsDefault, string? MatchedSource, string Reason);

/// <summary>
/// The NSG compiled for lookup: per destination port, one <see cref="AddressRangeTable"/> that already knows, for
/// every address, which rule wins (lowest priority number). A lookup is a binary search, so 10,000 prefixes cost
/// about as little as ten. Tables are built per port on first use and never change afterwards.
/// </summary>
internal sealed class NsgModel
{
    private readonly NsgRule[] _rules;
    private readonly ConcurrentDictionary<int, AddressRangeTable> _tables = new();

    public NsgModel(NsgRule[] rules) => _rules = rules;

    public IReadOnlyList<NsgRule> Rules => _rules;

    /// <returns>The index of the deciding rule in <see cref="Rules"/>, or -1 when none matches (then: deny).</returns>
    public int Evaluate(IPAddress source, int port)
    {
        var table = _tables.GetOrAdd(port, static (p, rules) => BuildTable(rules, p), _rules);
        return table.Find(AddressSpace.ToKey(NetworkParsing.Normalize(source)));
    }

    public NsgDecision Explain(IPAddress source, int port)
    {
        source = NetworkParsing.Normalize(source);
        var index = Evaluate(source, port);
        if (index < 0)
        {
            return new NsgDecision("(none)", 0, SecurityRuleAccess.Deny, true, null, $"no rule matches {source} on port {port}: denied");
        }

        var rule = _rules[index];
        var key = AddressSpace.ToKey(source);
        string? matched = null;
        foreach (var (text, ranges) in rule.Sources)
        {
            foreach (var (first, last) in ranges)
            {
                if (key >= first && key <= last)
                {
                    matched ??= text;
                }
            }
        }

        var skipped = 0;
        foreach (var other in _rules)
        {
            skipped += other.Priority < rule.Priority ? 1 : 0;
        }

        var reason = $"{(rule.IsDefault ? "default rule" : "rule")} '{rule.Name}' (priority {rule.Priority}, {rule.Access}) is the first that matches {source} on TCP port {port}: source '{matched}'; {skipped} rule(s) with lower priority numbers did not match";
        return new NsgDecision(rule.Name, rule.Priority, rule.Access, rule.IsDefault, matched, reason);
    }

    private static AddressRangeTable BuildTable(NsgRule[] rules, int port)
    {
        var ranges = new List<(UInt128, UInt128, int, int)>();
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if (!rule.MatchesTcp || !AnyContains(rule.Ports, port))
            {
                continue;
            }

            foreach (var (_, sourceRanges) in rule.Sources)
            {
                foreach (var (first, last) in sourceRanges)
                {
                    ranges.Add((first, last, i, rule.Priority));
                }
            }
        }

        return AddressRangeTable.Build(ranges);
    }

    private static bool AnyContains(IReadOnlyList<PortRange> ports, int port)
    {
        foreach (var range in ports)
        {
            if (range.Contains(port))
            {
                return true;
            }
        }

        return false;
    }
}
