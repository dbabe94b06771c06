using System.Globalization;

namespace AseGateway.Waf.Crs;

/// <summary>
/// The response-body directives of the rule files (SecResponseBodyAccess, SecResponseBodyMimeType, SecResponseBodyLimit,
/// SecResponseBodyLimitAction), with libmodsecurity3's defaults: no body access, text/plain and text/html, 512 KB,
/// Reject. Built while loading; immutable once the program is built.
/// </summary>
internal sealed class CrsResponseSettings
{
    public const int DefaultLimit = 512 * 1024;

    private bool _mimeTypesSet;

    public bool BodyAccess { get; private set; }

    public string[] MimeTypes { get; private set; } = ["text/plain", "text/html"];

    public int Limit { get; private set; } = DefaultLimit;

    public bool RejectOverLimit { get; private set; } = true;

    /// <summary>Applies one of the four directives; false when the directive is not one of them.</summary>
    public bool TryApply(SecLangDirective directive)
    {
        if (!directive.Name.StartsWith("SecResponseBody", StringComparison.Ordinal))
        {
            return false;
        }

        var value = directive.Arguments.Count > 0 ? directive.Arguments[0] : throw new SecLangException(directive.Where, $"{directive.Name} needs an argument");
        switch (directive.Name)
        {
            case "SecResponseBodyAccess":
                BodyAccess = OnOff(value, directive);
                return true;
            case "SecResponseBodyMimeType":
                // The first directive replaces the default list and later ones add to it, as in ModSecurity.
                var types = _mimeTypesSet ? new List<string>(MimeTypes) : [];
                _mimeTypesSet = true;
                foreach (var argument in directive.Arguments)
                {
                    foreach (var type in argument.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        types.Add(type.ToLowerInvariant());
                    }
                }

                MimeTypes = [.. types.Distinct(StringComparer.Ordinal)];
                return true;
            case "SecResponseBodyLimit":
                // The gateway buffers the body in memory; 1 GiB keeps an int length and stays far above any sane limit.
                Limit = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is > 0 and <= 1 << 30
                    ? limit
                    : throw new SecLangException(directive.Where, $"SecResponseBodyLimit '{value}' is not a byte count between 1 and 1073741824");
                return true;
            case "SecResponseBodyLimitAction":
                RejectOverLimit = value switch
                {
                    "Reject" => true,
                    "ProcessPartial" => false,
                    _ => throw new SecLangException(directive.Where, $"SecResponseBodyLimitAction '{value}' is not Reject or ProcessPartial"),
                };
                return true;
            default:
                return false;
        }
    }

    /// <summary>True when a response with this Content-Type has its body inspected (the media type, without parameters, is listed).</summary>
    public bool InspectsBodyOf(string? contentType)
    {
        if (!BodyAccess || string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var semicolon = contentType.IndexOf(';');
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).AsSpan().Trim();
        foreach (var type in MimeTypes)
        {
            if (mediaType.Equals(type, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool OnOff(string value, SecLangDirective directive) => value switch
    {
        "On" => true,
        "Off" => false,
        _ => throw new SecLangException(directive.Where, $"{directive.Name} '{value}' is not On or Off"),
    };
}
