using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Forwarding;

/// <summary>
/// A response body feature that is its own write-only <see cref="Stream"/>, for the middlewares that stand between the
/// app's writes and Kestrel's feature for one request (the access log's byte count, the WAF's response gate). YARP copies
/// a worker's body to the feature's stream and the gateway's own answers write to its pipe writer, so both roads pass
/// through it. What a write-only stream does not support is said once here.
/// </summary>
internal abstract class ResponseBodyFeatureStream : Stream, IHttpResponseBodyFeature
{
    Stream IHttpResponseBodyFeature.Stream => this;

    public abstract PipeWriter Writer { get; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public abstract void DisableBuffering();

    public abstract Task StartAsync(CancellationToken cancellationToken = default);

    public abstract Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default);

    public abstract Task CompleteAsync();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
