namespace AseGateway.Affinity;

/// <summary>App Service's affinity cookies. Their value is the instance id, so it means the same on every front end.</summary>
internal static class ArrAffinity
{
    public const string CookieName = "ARRAffinity";

    /// <summary>The copy browsers send on cross-site requests (SameSite=None requires Secure).</summary>
    public const string SameSiteCookieName = "ARRAffinitySameSite";

    public static string? ReadToken(Microsoft.AspNetCore.Http.IRequestCookieCollection cookies) =>
        cookies[CookieName] is { Length: > 0 } token ? token : cookies[SameSiteCookieName] is { Length: > 0 } other ? other : null;
}
