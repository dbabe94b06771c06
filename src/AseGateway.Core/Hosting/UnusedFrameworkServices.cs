using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AseGateway.Hosting;

/// <summary>Framework services that packages register for features the gateway does not use, and that cost memory at start.</summary>
internal static class UnusedFrameworkServices
{
    private const string DataProtectionHostedService = "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService";
    private const string HostFilteringStartupFilter = "HostFilteringStartupFilter";

    /// <summary>
    /// YARP's <c>AddReverseProxy</c> adds ASP.NET Core data protection for its encrypted session-affinity cookies; the
    /// gateway's ARR affinity is its own and never protects anything. Data protection's hosted service loads (and on a
    /// first start writes) the XML key ring under ~/.aspnet at start-up: System.Private.Xml and the XML key manager
    /// loaded and compiled for nothing, a few MB of resident memory. Without the hosted service the key ring is read
    /// only if something ever protects data, so nothing breaks if that changes.
    /// </summary>
    public static void RemoveDataProtectionStartup(IServiceCollection services) =>
        RemoveWhere(services, descriptor => descriptor.ServiceType == typeof(IHostedService) && descriptor.ImplementationType?.FullName == DataProtectionHostedService);

    /// <summary>
    /// YARP registers ASP.NET Core authorization for routes that name an authorization policy; the gateway's routes
    /// never do (access restrictions and the WAF are its own middleware). With the service registered, WebApplication
    /// adds the authorization middleware to the pipeline by itself: one more async layer on every request that looks
    /// up the endpoint's authorization metadata and finds none. Without the handler provider it is not added; the
    /// policy provider YARP's config validation reads stays.
    /// </summary>
    public static void RemoveAuthorizationMiddleware(IServiceCollection services) =>
        RemoveWhere(services, descriptor => descriptor.ServiceType == typeof(IAuthorizationHandlerProvider));

    /// <summary>
    /// The web host's defaults put ASP.NET Core's host filtering first in the pipeline, allowing any host unless
    /// <c>AllowedHosts</c> is set: on every request it reads the Host header and its options and lets the request
    /// through. The gateway's hosts are its apps' host names, from its configuration file (an unknown host gets the
    /// gateway's own 404), so an <c>AllowedHosts</c> from the environment must not filter them either.
    /// </summary>
    public static void RemoveHostFiltering(IServiceCollection services) =>
        RemoveWhere(services, descriptor => descriptor.ServiceType == typeof(IStartupFilter) && descriptor.ImplementationType?.Name == HostFilteringStartupFilter);

    private static void RemoveWhere(IServiceCollection services, Func<ServiceDescriptor, bool> unused)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            if (unused(services[i]))
            {
                services.RemoveAt(i);
            }
        }
    }
}
