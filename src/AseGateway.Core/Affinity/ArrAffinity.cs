namespace AseGateway.Affinity;

/// <summary>App Service's affinity cookies. Their value is the instance id, so it means the same on every front end.</summary>
internal static class ArrAffinity
{
    public const string CookieName = "ARRAffinity";

    /// <summary>The copy browsers send on cross-site requests (SameSite=None requires Secure).</summary>
    public const string SameSiteCookieName = "ARRAffinitySameSite";

    /// <summary>
    /// The instance id the client is pinned to, or null. Without a Cookie header there is nothing to parse: the
    /// framework's cookie feature is made only for requests that carry cookies (a load generator's never do).
    /// </summary>
    public static string? ReadToken(Microsoft.AspNetCore.Http.HttpRequest request)
    {
        if (request.Headers.Cookie.Count == 0)
        {
            return null;
        }

        var cookies = request.Cookies;
        return cookies[CookieName] is { Length: > 0 } token ? token : cookies[SameSiteCookieName] is { Length: > 0 } other ? other : null;
    }
}
