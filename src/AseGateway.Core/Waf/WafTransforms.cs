using System.Net;

namespace AseGateway.Waf;

/// <summary>Azure's custom-rule transforms. Applied to each value in the order the rule lists them.</summary>
internal static class WafTransforms
{
    public static string Apply(string value, WafTransform[] transforms)
    {
        foreach (var transform in transforms)
        {
            value = transform switch
            {
                WafTransform.Lowercase => value.ToLowerInvariant(),
                WafTransform.Uppercase => value.ToUpperInvariant(),
                WafTransform.Trim => value.Trim(),
                WafTransform.UrlDecode => UrlDecode(value),
                WafTransform.UrlEncode => Uri.EscapeDataString(value),
                WafTransform.RemoveNulls => value.Contains('\0', StringComparison.Ordinal) ? value.Replace("\0", string.Empty, StringComparison.Ordinal) : value,
                WafTransform.HtmlEntityDecode => value.Contains('&', StringComparison.Ordinal) ? WebUtility.HtmlDecode(value) : value,
                _ => value,
            };
        }

        return value;
    }

    /// <summary>Form-style decoding ('+' is a space), tolerant of malformed escapes (kept as written).</summary>
    public static string UrlDecode(string value) =>
        value.Contains('%', StringComparison.Ordinal) || value.Contains('+', StringComparison.Ordinal) ? WebUtility.UrlDecode(value) : value;
}
