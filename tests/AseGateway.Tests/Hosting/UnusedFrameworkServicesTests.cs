using System.Net;
using AseGateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
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
}
