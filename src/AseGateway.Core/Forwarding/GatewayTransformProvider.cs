using AseGateway.Affinity;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace AseGateway.Forwarding;

/// <summary>Gives every app route App Service's request headers, the original Host, and affinity cookies.</summary>
internal sealed class GatewayTransformProvider : ITransformProvider
{
    private readonly ArrAffinityResponseTransform _affinity;

    /// <param name="affinity">The one instance the fast path uses too, so both roads share its cookie cache.</param>
    public GatewayTransformProvider(ArrAffinityResponseTransform affinity) => _affinity = affinity;

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        // YARP's default X-Forwarded-* handling trusts nobody's chain or everybody's; ours depends on the peer.
        context.UseDefaultForwarders = false;
        context.AddOriginalHost(useOriginal: true);
        context.RequestTransforms.Add(AppServiceRequestTransform.Instance);
        context.ResponseTransforms.Add(_affinity);
    }
}
