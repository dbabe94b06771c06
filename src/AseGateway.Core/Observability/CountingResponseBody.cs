using System.IO.Pipelines;
using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Observability;

/// <summary>
/// Counts the response body bytes the gateway sends (sc-bytes) whichever way they are written. The fast path and the
/// gateway's own answers write to the pipe writer, which this object is, so a logged request on those roads costs
/// one object; YARP copies a worker's body to <see cref="Stream"/>, made on first use. Every call is passed straight
/// to Kestrel's feature, so nothing is buffered or copied.
/// </summary>
internal sealed class CountingResponseBody : PipeWriter, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private readonly PipeWriter _writer;
    private CountingStream? _stream;
    private long _bytes;

    private CountingResponseBody(IHttpResponseBodyFeature inner)
    {
        _inner = inner;
        _writer = inner.Writer;
    }

    public long Bytes => _bytes + (_stream?.Bytes ?? 0);

    public Stream Stream => _stream ??= new CountingStream(_inner.Stream);

    public PipeWriter Writer => this;

    public static CountingResponseBody Attach(HttpContext context)
    {
        // The indexer, not Get/Set<T>: see FeatureLookup (this runs on every request with the access log on).
        var features = context.Features;
        var counting = new CountingResponseBody(features.Find<IHttpResponseBodyFeature>() ?? throw new InvalidOperationException("No response body feature."));
        features[typeof(IHttpResponseBodyFeature)] = counting;
        return counting;
    }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        await _inner.SendFileAsync(path, offset, count, cancellationToken);
        _bytes += count ?? (new FileInfo(path).Length - offset);
    }

    Task IHttpResponseBodyFeature.CompleteAsync() => _inner.CompleteAsync();

    // The pipe writer: what is advanced (committed) is counted, the one call every PipeWriter write goes through.
    public override bool CanGetUnflushedBytes => _writer.CanGetUnflushedBytes;

    public override long UnflushedBytes => _writer.UnflushedBytes;

    public override void Advance(int bytes)
    {
        _bytes += bytes;
        _writer.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _writer.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => _writer.GetSpan(sizeHint);

    public override void CancelPendingFlush() => _writer.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => _writer.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _writer.CompleteAsync(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        _bytes += source.Length;
        return _writer.WriteAsync(source, cancellationToken);
    }

    /// <summary>The write-only stream YARP copies a worker's body to: counted, then passed to Kestrel's.</summary>
    private sealed class CountingStream(Stream inner) : WriteOnlyStream
    {
        public long Bytes { get; private set; }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Bytes += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Bytes += buffer.Length;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    }
}
