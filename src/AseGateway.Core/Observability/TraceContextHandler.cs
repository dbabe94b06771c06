using System.Diagnostics;

namespace AseGateway.Observability;

/// <summary>
/// Passes the request's trace context (W3C <c>traceparent</c>, <c>tracestate</c>, baggage) to the worker when tracing
/// is off, in place of HttpClient's diagnostics handler. That handler, whenever a request activity is current, starts a
/// client activity of its own per call, sets its tags and awaits the call in an extra async stage — a span nobody
/// records when tracing is off. Here the request's own activity (ASP.NET Core's, the gateway's span) is injected, as
/// YARP's <c>ReverseProxyPropagator</c> would: whatever trace headers the client sent are removed first. With no
/// current activity nothing is touched, as with the diagnostics handler.
/// </summary>
internal sealed class TraceContextHandler : DelegatingHandler
{
    private readonly DistributedContextPropagator _propagator;
    private readonly string[] _fields;

    public TraceContextHandler(HttpMessageHandler inner, DistributedContextPropagator propagator)
        : base(inner)
    {
        _propagator = propagator;
        _fields = [.. propagator.Fields];
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Inject(request);
        return base.SendAsync(request, cancellationToken);
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Inject(request);
        return base.Send(request, cancellationToken);
    }

    private void Inject(HttpRequestMessage request)
    {
        if (Activity.Current is not { } activity)
        {
            return;
        }

        var headers = request.Headers;
        foreach (var field in _fields)
        {
            headers.Remove(field);
        }

        _propagator.Inject(activity, request, static (carrier, name, value) =>
        {
            if (carrier is HttpRequestMessage message && name is not null)
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        });
    }
}
