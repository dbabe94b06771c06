using System.Collections.Frozen;

namespace AseGateway.Waf;

/// <summary>Match variables of Azure WAF custom rules.</summary>
public enum WafVariable
{
    RemoteAddr,
    RequestMethod,
    QueryString,
    PostArgs,
    RequestUri,
    RequestHeaders,
    RequestBody,
    RequestCookies,
}

/// <summary>Operators of Azure WAF custom rules.</summary>
public enum WafOperator
{
    IPMatch,
    Equal,
    Contains,
    BeginsWith,
    EndsWith,
    Regex,
    LessThan,
    GreaterThan,
    LessThanOrEqual,
    GreaterThanOrEqual,
    Any,
    GeoMatch,
}

/// <summary>Value transforms of Azure WAF custom rules, applied in order before matching.</summary>
public enum WafTransform
{
    Lowercase,
    Uppercase,
    Trim,
    UrlDecode,
    UrlEncode,
    RemoveNulls,
    HtmlEntityDecode,
}

/// <summary>The names users write, looked up once at load (an unknown name is a validation error, never a runtime surprise).</summary>
internal static class WafNames
{
    public static readonly FrozenDictionary<string, WafVariable> Variables = Table<WafVariable>();
    public static readonly FrozenDictionary<string, WafOperator> Operators = Table<WafOperator>();
    public static readonly FrozenDictionary<string, WafTransform> Transforms = Table<WafTransform>();

    private static FrozenDictionary<string, T> Table<T>()
        where T : struct, Enum
    {
        var table = new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase);
        foreach (var value in Enum.GetValues<T>())
        {
            table[value.ToString()] = value;
        }

        return table.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }
}
