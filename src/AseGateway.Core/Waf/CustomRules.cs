using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using AseGateway.Configuration;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Waf;

/// <summary>One compiled match condition: variables, operator, values and transforms, all resolved at load.</summary>
internal sealed class CompiledCondition
{
    public required (WafVariable Variable, string? Selector)[] Variables { get; init; }

    public required WafOperator Operator { get; init; }

    public required bool Negate { get; init; }

    public required string[] Values { get; init; }

    public required WafTransform[] Transforms { get; init; }

    public Regex[]? Patterns { get; init; }

    public IReadOnlyList<(UInt128 First, UInt128 Last)>? Ranges { get; init; }

    public double[]? Numbers { get; init; }

    /// <summary>
    /// The transforms are Lowercase alone, the operator compares strings, and every match value is lowercase ASCII:
    /// then an ASCII value lowercased passes exactly when the value itself passes compared ignoring ASCII case, and
    /// its lowercase copy is made only for a match (for the audit log). A browser's User-Agent checked against a
    /// bot's name, the usual such rule, made a 111-character copy per request (0.7% of the gateway's CPU with a
    /// browser's headers). A value with other characters is lowercased and compared as the rule says.
    /// </summary>
    public bool ComparesIgnoringAsciiCase { get; init; }

    /// <summary>
    /// With <see cref="ComparesIgnoringAsciiCase"/> and Contains: the values as one vectorised search ignoring ASCII
    /// case (<c>string.Contains</c> ignoring case compares character by character under invariant globalization).
    /// </summary>
    public System.Buffers.SearchValues<string>? ContainedIgnoringAsciiCase { get; init; }

    /// <returns>The matching value (for the audit log), or null when the condition does not hold.</returns>
    public string? Evaluate(WafRequest request)
    {
        string? matched = null;
        foreach (var (variable, selector) in Variables)
        {
            matched = variable == WafVariable.RemoteAddr && Operator == WafOperator.IPMatch && Transforms.Length == 0
                ? MatchClientAddress(request)
                : SingleValue(request, variable, selector, out var single) ? Match(single) : MatchAny(request, variable, selector);
            if (matched is not null)
            {
                break;
            }
        }

        if (Negate)
        {
            return matched is null ? "(negated: no value matched)" : null;
        }

        return matched;
    }

    /// <summary>The value after the transforms when it passes the operator, else null.</summary>
    private string? Match(string? raw)
    {
        if (raw is null)
        {
            return null;
        }

        if (ComparesIgnoringAsciiCase && System.Text.Ascii.IsValid(raw))
        {
            var passes = ContainedIgnoringAsciiCase is { } contained ? raw.AsSpan().ContainsAny(contained) : Test(raw, StringComparison.OrdinalIgnoreCase);
            return passes ? raw.ToLowerInvariant() : null;
        }

        var value = Transforms.Length == 0 ? raw : WafTransforms.Apply(raw, Transforms);
        return Test(value, StringComparison.Ordinal) ? value : null;
    }

    /// <summary>
    /// RemoteAddr against IP ranges, the usual custom rule: the address itself is tested, not its text parsed back
    /// (the same address: <see cref="IPAddress.ToString"/> parses to it, normalised as <see cref="ForwardedParse"/>
    /// does). The text is made only for a match, for the audit log.
    /// </summary>
    private string? MatchClientAddress(WafRequest request) =>
        request.ClientAddress is { } client && Nsg.NsgCompiler.Contains(Ranges!, NetworkParsing.Normalize(client)) ? request.ClientAddressText : null;

    private string? MatchAny(WafRequest request, WafVariable variable, string? selector)
    {
        if (variable == WafVariable.RequestHeaders && selector is not null)
        {
            // One named header, the usual custom rule (User-Agent, Referer): its values without an iterator.
            foreach (var value in request.Headers[selector])
            {
                if (Match(value ?? string.Empty) is { } matched)
                {
                    return matched;
                }
            }

            return null;
        }

        foreach (var raw in ValuesOf(request, variable, selector))
        {
            if (Match(raw) is { } matched)
            {
                return matched;
            }
        }

        return null;
    }

    /// <summary>
    /// A variable that has at most one value is read directly: <see cref="ValuesOf"/> is an iterator, one allocation per
    /// condition per request, and conditions on the client address, method, URI or one named cookie are the common ones.
    /// </summary>
    private static bool SingleValue(WafRequest request, WafVariable variable, string? selector, out string? value)
    {
        (var single, value) = variable switch
        {
            WafVariable.RemoteAddr => (true, request.ClientAddressText),
            WafVariable.RequestMethod => (true, request.Method),
            WafVariable.RequestUri => (true, request.Uri),
            WafVariable.RequestBody => (true, request.BodyText),
            WafVariable.QueryString when selector is null => (true, request.QueryString),
            WafVariable.RequestCookies when selector is not null => (true, request.HasCookies ? Forwarding.CookieHeader.Last(request.CookieHeaders, selector) : null),
            _ => (false, null),
        };
        return single;
    }

    private bool Test(string value, StringComparison comparison)
    {
        switch (Operator)
        {
            case WafOperator.Any:
                return true;
            case WafOperator.IPMatch:
                return ForwardedParse(value) is { } address && Nsg.NsgCompiler.Contains(Ranges!, address);
            case WafOperator.Regex:
                foreach (var pattern in Patterns!)
                {
                    if (pattern.IsMatch(value))
                    {
                        return true;
                    }
                }

                return false;
            case WafOperator.LessThan or WafOperator.GreaterThan or WafOperator.LessThanOrEqual or WafOperator.GreaterThanOrEqual:
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    return false;
                }

                foreach (var bound in Numbers!)
                {
                    if (Operator switch
                    {
                        WafOperator.LessThan => number < bound,
                        WafOperator.GreaterThan => number > bound,
                        WafOperator.LessThanOrEqual => number <= bound,
                        _ => number >= bound,
                    })
                    {
                        return true;
                    }
                }

                return false;
        }

        foreach (var candidate in Values)
        {
            if (Operator switch
            {
                WafOperator.Equal => string.Equals(value, candidate, comparison),
                WafOperator.Contains => value.Contains(candidate, comparison),
                WafOperator.BeginsWith => value.StartsWith(candidate, comparison),
                WafOperator.EndsWith => value.EndsWith(candidate, comparison),
                _ => false,
            })
            {
                return true;
            }
        }

        return false;
    }

    private static IPAddress? ForwardedParse(string value) => Forwarding.ForwardedForParser.TryParseHop(value.AsSpan().Trim(), out var address) ? address : null;

    /// <summary>
    /// The values of a collection match variable, with a selector narrowing it to one name. The variables that have at
    /// most one value are read by <see cref="SingleValue"/>, which <see cref="Evaluate"/> asks first, and one named
    /// header by <see cref="MatchAny"/> itself.
    /// </summary>
    private static IEnumerable<string> ValuesOf(WafRequest request, WafVariable variable, string? selector)
    {
        switch (variable)
        {
            case WafVariable.QueryString when selector is not null:
                foreach (var arg in Named(request.QueryArgs, selector))
                {
                    yield return arg;
                }

                break;
            case WafVariable.PostArgs:
                foreach (var arg in selector is null ? All(request.BodyArgs) : Named(request.BodyArgs, selector))
                {
                    yield return arg;
                }

                break;
            case WafVariable.RequestHeaders:
                foreach (var (_, values) in request.Headers)
                {
                    foreach (var value in values)
                    {
                        yield return value ?? string.Empty;
                    }
                }

                break;
            case WafVariable.RequestCookies:
                foreach (var header in request.CookieHeaders)
                {
                    for (var offset = 0; header is not null && Forwarding.CookieHeader.TryNext(header, ref offset, out _, out var value);)
                    {
                        yield return Forwarding.CookieHeader.Decode(value);
                    }
                }

                break;
        }
    }

    private static IEnumerable<string> Named(IReadOnlyList<KeyValuePair<string, string>> args, string name)
    {
        foreach (var (key, value) in args)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                yield return value;
            }
        }
    }

    private static IEnumerable<string> All(IReadOnlyList<KeyValuePair<string, string>> args)
    {
        foreach (var (_, value) in args)
        {
            yield return value;
        }
    }
}

/// <summary>A compiled custom rule (match or rate limit).</summary>
internal sealed class CompiledCustomRule
{
    public required string Name { get; init; }

    public required int Priority { get; init; }

    public required WafAction Action { get; init; }

    public required CompiledCondition[] Conditions { get; init; }

    public required bool IsRateLimit { get; init; }

    public TimeSpan RateWindow { get; init; }

    public int RateThreshold { get; init; }

    public bool GroupByClient { get; init; }

    /// <summary>All conditions hold (AND); returns the first condition's matched value for the log.</summary>
    public string? Match(WafRequest request)
    {
        string? first = null;
        foreach (var condition in Conditions)
        {
            if (condition.Evaluate(request) is not { } matched)
            {
                return null;
            }

            first ??= matched;
        }

        return first ?? string.Empty;
    }

    public static CompiledCustomRule Compile(WafCustomRuleConfig rule)
    {
        var conditions = new List<CompiledCondition>();
        foreach (var condition in rule.MatchConditions ?? [])
        {
            var op = WafNames.Operators[condition.Operator!];
            var values = condition.MatchValues ?? [];
            WafTransform[] transforms = [.. (condition.Transforms ?? []).Select(t => WafNames.Transforms[t])];
            var foldsCase = transforms is [WafTransform.Lowercase]
                && op is WafOperator.Equal or WafOperator.Contains or WafOperator.BeginsWith or WafOperator.EndsWith
                && values.All(v => System.Text.Ascii.IsValid(v) && !v.Any(char.IsAsciiLetterUpper));
            conditions.Add(new CompiledCondition
            {
                Variables = [.. (condition.MatchVariables ?? []).Select(v => (WafNames.Variables[v.VariableName!], v.Selector))],
                Operator = op,
                Negate = condition.NegationCondition ?? condition.NegationConditon ?? false,
                Values = values,
                Transforms = transforms,
                ComparesIgnoringAsciiCase = foldsCase,
                ContainedIgnoringAsciiCase = foldsCase && op == WafOperator.Contains && values.Length > 0 && values.All(v => v.Length > 0)
                    ? System.Buffers.SearchValues.Create(values, StringComparison.OrdinalIgnoreCase)
                    : null,
                Patterns = op == WafOperator.Regex ? [.. values.Select(WafRegex.Create)] : null,
                Ranges = op == WafOperator.IPMatch ? Nsg.NsgCompiler.Prefixes(values) : null,
                Numbers = op is WafOperator.LessThan or WafOperator.GreaterThan or WafOperator.LessThanOrEqual or WafOperator.GreaterThanOrEqual
                    ? [.. values.Select(v => double.Parse(v, CultureInfo.InvariantCulture))]
                    : null,
            });
        }

        var isRate = rule.RuleType == WafRuleType.RateLimitRule;
        return new CompiledCustomRule
        {
            Name = rule.Name!,
            Priority = rule.Priority!.Value,
            Action = rule.Action!.Value,
            Conditions = [.. conditions],
            IsRateLimit = isRate,
            RateWindow = rule.RateLimitDuration == WafRateLimitDuration.FiveMins ? TimeSpan.FromMinutes(5) : TimeSpan.FromMinutes(1),
            RateThreshold = rule.RateLimitThreshold ?? 0,
            GroupByClient = !(rule.GroupByUserSession ?? []).Any(g => (g.GroupByVariables ?? []).Any(v => string.Equals(v.VariableName, "None", StringComparison.OrdinalIgnoreCase))),
        };
    }
}

/// <summary>Regexes from configuration: compiled once, linear-time (no catastrophic backtracking, so no ReDoS).</summary>
internal static class WafRegex
{
    public static Regex Create(string pattern) => new(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));

    public static string? Check(string pattern)
    {
        try
        {
            _ = Create(pattern);
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
        catch (NotSupportedException ex)
        {
            return ex.Message;
        }
    }
}
