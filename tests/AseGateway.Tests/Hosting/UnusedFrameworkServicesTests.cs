using System.Net;
using AseGateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Xunit.Abstractions;

namespace AseGateway.Tests.Hosting;

public sealed class UnusedFrameworkServicesTests(ITestOutputHelper output)
{
    [Fact]
    public async Task DataPlane_WithoutAuthorizationHandlers_HasNoAuthorizationMiddlewareAndStillProxies()
    {
        // WebApplication inserts UseAuthorization by itself when the handler provider is registered (YARP registers
        // authorization for routes with a policy, which the gateway's never have): with it gone, the middleware is not
        // on the request path, and YARP's route validation, which reads the policy provider, still passes.
        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static([backend]), output);

        Assert.False(gateway.Server.DataPlaneHas<IAuthorizationHandlerProvider>());
        Assert.True(gateway.Server.DataPlaneHas<IAuthorizationPolicyProvider>());
        using var response = await gateway.GetAsync(TestConfigs.AppHost);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task DataPlane_WithoutHostFiltering_StillAnswersEveryHostItsOwnWay()
    {
        // The web host's defaults register host filtering as a startup filter; it must be there to be removed, or a
        // renamed filter would silently stay on every request.
        Assert.Contains(WebApplication.CreateSlimBuilder().Services, descriptor => descriptor.ServiceType == typeof(IStartupFilter) && descriptor.ImplementationType?.Name == "HostFilteringStartupFilter");

        await using var backend = await TestBackend.StartAsync("b0");
        await using var gateway = await TestGateway.StartAsync(TestConfigs.Static([backend]), output);

        Assert.DoesNotContain(gateway.Server.DataPlaneServices<IStartupFilter>(), filter => filter.GetType().Name == "HostFilteringStartupFilter");
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));
        using var unknown = await gateway.GetAsync("nobody.example.org");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }
}
