using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Affinity;

/// <summary>App Service's affinity cookies. Their value is the instance id, so it means the same on every front end.</summary>
internal static class ArrAffinity
{
    public const string CookieName = "ARRAffinity";

    /// <summary>The copy browsers send on cross-site requests (SameSite=None requires Secure).</summary>
    public const string SameSiteCookieName = "ARRAffinitySameSite";

    /// <summary>
    /// The instance id the client is pinned to, or null: read from the request once and kept in
    /// <paramref name="gateway"/> for the response to compare with the instance that answered.
    /// </summary>
    public static string? Token(HttpRequest request, GatewayRequestFeature gateway)
    {
        if (!gateway.AffinityTokenRead)
        {
            gateway.AffinityToken = ReadToken(request.Headers.Cookie);
            gateway.AffinityTokenRead = true;
        }

        return gateway.AffinityToken;
    }

    /// <summary>
    /// The value of the last non-empty ARRAffinity cookie, else of the last ARRAffinitySameSite one, decoded; null when
    /// there is neither. Read from the Cookie header in place, in one walk for both names
    /// (<see cref="CookieHeader.Last(StringValues, string, string?)"/>): the framework's cookie collection would parse
    /// and decode every cookie of the request to find this one.
    /// </summary>
    public static string? ReadToken(StringValues cookies) => cookies.Count == 0 ? null : CookieHeader.Last(cookies, CookieName, SameSiteCookieName);
}
