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
    /// The value of the last non-empty ARRAffinity cookie, else of the last ARRAffinitySameSite one (names ignoring
    /// case, as ASP.NET Core's cookie collection reads them), decoded; null when there is neither. One walk of the
    /// Cookie header in place (<see cref="CookieHeader"/>): the framework's cookie collection would parse and decode
    /// every cookie of the request to find this one, and a walk per name reads a browser's five cookies twice to find
    /// none.
    /// </summary>
    public static string? ReadToken(StringValues cookies)
    {
        ReadOnlySpan<char> affinity = default, sameSite = default;
        bool foundAffinity = false, foundSameSite = false;
        foreach (var header in cookies)
        {
            var offset = 0;
            while (header is not null && CookieHeader.TryNext(header, ref offset, out var name, out var value))
            {
                // Both names start with "ARRAffinity": any other name is neither, at the cost of one comparison.
                if (value.IsEmpty || !name.StartsWith(CookieName, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (name.Length == CookieName.Length)
                {
                    affinity = value;
                    foundAffinity = true;
                }
                else if (name.Equals(SameSiteCookieName, StringComparison.OrdinalIgnoreCase))
                {
                    sameSite = value;
                    foundSameSite = true;
                }
            }
        }

        return foundAffinity ? CookieHeader.Decode(affinity) : foundSameSite ? CookieHeader.Decode(sameSite) : null;
    }
}
