using System.IO.Pipelines;
using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Observability;

/// <summary>
/// Counts the response body bytes the gateway sends (sc-bytes) whichever way they are written: YARP copies a
/// worker's body to <see cref="Stream"/>, the gateway's own answers write to <see cref="Writer"/>. One object per
/// logged request; every call is passed straight to Kestrel's feature, so nothing is buffered or copied.
/// </summary>
internal sealed class CountingResponseBody : ResponseBodyFeatureStream
{
    private readonly IHttpResponseBodyFeature _inner;
    private CountingPipeWriter? _writer;
    private long _bytes;

    private CountingResponseBody(IHttpResponseBodyFeature inner) => _inner = inner;

    public long Bytes => _bytes + (_writer?.Bytes ?? 0);

    public override PipeWriter Writer => _writer ??= new CountingPipeWriter(_inner.Writer);

    public static CountingResponseBody Attach(HttpContext context)
    {
        var counting = new CountingResponseBody(context.Features.GetRequiredFeature<IHttpResponseBodyFeature>());
        context.Features.Set<IHttpResponseBodyFeature>(counting);
        return counting;
    }

    public override void DisableBuffering() => _inner.DisableBuffering();

    public override Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public override async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        await _inner.SendFileAsync(path, offset, count, cancellationToken);
        _bytes += count ?? (new FileInfo(path).Length - offset);
    }

    public override Task CompleteAsync() => _inner.CompleteAsync();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _inner.Stream.Write(buffer);
        _bytes += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _bytes += buffer.Length;
        return _inner.Stream.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => _inner.Stream.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.Stream.FlushAsync(cancellationToken);

    /// <summary>Counts what is advanced (committed), the one call every PipeWriter write goes through.</summary>
    private sealed class CountingPipeWriter(PipeWriter inner) : PipeWriter
    {
        public long Bytes { get; private set; }

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            Bytes += bytes;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            Bytes += source.Length;
            return inner.WriteAsync(source, cancellationToken);
        }
    }
}
