namespace AseGateway.Affinity;

/// <summary>App Service's affinity cookies. Their value is the instance id, so it means the same on every front end.</summary>
internal static class ArrAffinity
{
    public const string CookieName = "ARRAffinity";

    /// <summary>The copy browsers send on cross-site requests (SameSite=None requires Secure).</summary>
    public const string SameSiteCookieName = "ARRAffinitySameSite";

    /// <summary>
    /// The instance id the client is pinned to, or null. Read from the Cookie header in place
    /// (<see cref="Forwarding.CookieHeader"/>): the framework's cookie collection would parse and decode every cookie
    /// of the request to find this one.
    /// </summary>
    public static string? ReadToken(Microsoft.AspNetCore.Http.HttpRequest request)
    {
        var cookies = request.Headers.Cookie;
        return cookies.Count == 0 ? null : Forwarding.CookieHeader.Last(cookies, CookieName) ?? Forwarding.CookieHeader.Last(cookies, SameSiteCookieName);
    }
}
