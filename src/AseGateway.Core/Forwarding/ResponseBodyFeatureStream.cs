using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Forwarding;

/// <summary>
/// A response body feature that is its own write-only <see cref="Stream"/>, for a middleware that stands between the
/// app's writes and Kestrel's feature for one request (the WAF's response gate). YARP copies a worker's body to the
/// feature's stream and the fast path and the gateway's own answers write to its pipe writer, so every road passes
/// through it.
/// </summary>
internal abstract class ResponseBodyFeatureStream : WriteOnlyStream, IHttpResponseBodyFeature
{
    Stream IHttpResponseBodyFeature.Stream => this;

    public abstract PipeWriter Writer { get; }

    public abstract void DisableBuffering();

    public abstract Task StartAsync(CancellationToken cancellationToken = default);

    public abstract Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default);

    public abstract Task CompleteAsync();
}
