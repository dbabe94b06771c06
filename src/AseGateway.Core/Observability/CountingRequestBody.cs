using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Observability;

/// <summary>
/// Counts a chunked request body as it is read (cs-bytes), for requests without Content-Length; a sized body is
/// logged by its Content-Length and never wrapped. Reads pass straight through.
/// </summary>
internal sealed class CountingRequestBody : Stream
{
    private readonly Stream _inner;

    private CountingRequestBody(Stream inner) => _inner = inner;

    public long Bytes { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public static CountingRequestBody? AttachIfUnsized(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentLength is not null || context.Features.Find<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: true })
        {
            return null;
        }

        var counting = new CountingRequestBody(request.Body);
        request.Body = counting;
        return counting;
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(_inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(_inner.Read(buffer));

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Count(await _inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await _inner.ReadAsync(buffer, cancellationToken));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        Bytes += read;
        return read;
    }
}
