using System.Net;
using AseGateway.Configuration;
using AseGateway.Networking;
using AseGateway.Nsg;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Access;

/// <summary>One compiled access rule: address ranges (or everything) and header filters, all ANDed.</summary>
internal sealed class AccessRule
{
    public required string Name { get; init; }

    public required int Priority { get; init; }

    public required SecurityRuleAccess Action { get; init; }

    /// <summary>Null: any address.</summary>
    public required IReadOnlyList<(UInt128 First, UInt128 Last)>? Ranges { get; init; }

    public required IReadOnlyList<(UInt128 First, UInt128 Last)>? ForwardedFor { get; init; }

    /// <summary>Exact names, or ".suffix" entries written as "*.suffix".</summary>
    public required IReadOnlyList<string>? ForwardedHost { get; init; }

    public required IReadOnlyList<string>? AzureFdid { get; init; }

    public required IReadOnlyList<string>? FdHealthProbe { get; init; }

    public bool Matches(IPAddress client, IHeaderDictionary headers)
    {
        if (Ranges is not null && !NsgCompiler.Contains(Ranges, client))
        {
            return false;
        }

        return (ForwardedFor is null || AnyHopIn(headers[AccessHeaderNames.ForwardedFor], ForwardedFor))
            && (ForwardedHost is null || HostMatches(headers[AccessHeaderNames.ForwardedHost].ToString(), ForwardedHost))
            && (AzureFdid is null || ValueIn(headers[AccessHeaderNames.AzureFdid].ToString(), AzureFdid))
            && (FdHealthProbe is null || ValueIn(headers[AccessHeaderNames.FdHealthProbe].ToString(), FdHealthProbe));
    }

    private static bool AnyHopIn(Microsoft.Extensions.Primitives.StringValues chain, IReadOnlyList<(UInt128, UInt128)> ranges)
    {
        // Hops are read in place (no Split, no substrings): this runs per request for rules with a header filter.
        for (var i = 0; i < chain.Count; i++)
        {
            var rest = (chain[i] ?? string.Empty).AsSpan();
            while (!rest.IsEmpty)
            {
                var comma = rest.IndexOf(',');
                var hop = (comma < 0 ? rest : rest[..comma]).Trim();
                rest = comma < 0 ? default : rest[(comma + 1)..];
                if (!hop.IsEmpty && Forwarding.ForwardedForParser.TryParseHop(hop, out var address) && NsgCompiler.Contains(ranges, address))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool HostMatches(string host, IReadOnlyList<string> patterns)
    {
        if (host.Length == 0)
        {
            return false;
        }

        for (var i = 0; i < patterns.Count; i++)
        {
            var pattern = patterns[i];
            if (pattern.StartsWith("*.", StringComparison.Ordinal)
                ? host.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase) && host.Length > pattern.Length - 1
                : string.Equals(host, pattern, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ValueIn(string value, IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (string.Equals(values[i], value, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>An app's access restrictions: rules in priority order, first match decides, else the default action.</summary>
internal sealed class AccessRestrictionModel
{
    public static readonly AccessRestrictionModel AllowAll = new([], SecurityRuleAccess.Allow);

    public AccessRestrictionModel(AccessRule[] rules, SecurityRuleAccess defaultAction)
    {
        Rules = rules;
        DefaultAction = defaultAction;
    }

    public AccessRule[] Rules { get; }

    public SecurityRuleAccess DefaultAction { get; }

    /// <returns>The deciding rule (null when the default action decided) and the action.</returns>
    public (AccessRule? Rule, SecurityRuleAccess Action) Evaluate(IPAddress client, IHeaderDictionary headers)
    {
        foreach (var rule in Rules)
        {
            if (rule.Matches(client, headers))
            {
                return (rule, rule.Action);
            }
        }

        return (null, DefaultAction);
    }

    public static AccessRestrictionModel Compile(AccessRestrictionsConfig? config, Dictionary<string, IReadOnlyList<(UInt128 First, UInt128 Last)>> tags)
    {
        var rules = config?.Rules ?? [];
        if (rules.Length == 0)
        {
            // No rules: everyone may enter, unless the default action says otherwise.
            return config?.DefaultAction is SecurityRuleAccess.Deny ? new AccessRestrictionModel([], SecurityRuleAccess.Deny) : AllowAll;
        }

        var compiled = new List<AccessRule>(rules.Length);
        foreach (var rule in rules)
        {
            IReadOnlyList<(UInt128, UInt128)>? ranges = null;
            if (rule.ServiceTag is { } tag)
            {
                ranges = NsgCompiler.Ranges(tag, tags);
            }
            else if (rule.IpAddress is { } addresses && !string.Equals(addresses.Trim(), "Any", StringComparison.OrdinalIgnoreCase))
            {
                ranges = Combine(addresses, tags);
            }

            compiled.Add(new AccessRule
            {
                Name = rule.Name!,
                Priority = rule.Priority!.Value,
                Action = rule.Action!.Value,
                Ranges = ranges,
                ForwardedFor = Header(rule, AccessHeaderNames.ForwardedFor) is { } xff ? Combine(string.Join(',', xff), tags) : null,
                ForwardedHost = Header(rule, AccessHeaderNames.ForwardedHost),
                AzureFdid = Header(rule, AccessHeaderNames.AzureFdid),
                FdHealthProbe = Header(rule, AccessHeaderNames.FdHealthProbe),
            });
        }

        compiled.Sort(static (a, b) => a.Priority.CompareTo(b.Priority));

        // App Service: once any rule exists, whatever no rule allows is denied — unless the app says otherwise.
        return new AccessRestrictionModel([.. compiled], config?.DefaultAction ?? SecurityRuleAccess.Deny);
    }

    private static List<(UInt128, UInt128)> Combine(string addresses, Dictionary<string, IReadOnlyList<(UInt128 First, UInt128 Last)>> tags)
    {
        var ranges = new List<(UInt128, UInt128)>();
        foreach (var address in addresses.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            ranges.AddRange(NsgCompiler.Ranges(address, tags));
        }

        return ranges;
    }

    private static string[]? Header(AccessRuleConfig rule, string name)
    {
        foreach (var (key, values) in rule.Headers ?? [])
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return values;
            }
        }

        return null;
    }
}
