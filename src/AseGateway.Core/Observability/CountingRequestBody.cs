using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Observability;

/// <summary>
/// Counts a chunked request body as it is read (cs-bytes), for requests without Content-Length; a sized body is
/// logged by its Content-Length and never wrapped. Reads pass straight through.
/// </summary>
internal sealed class CountingRequestBody : ReadOnlyStream
{
    private readonly Stream _inner;

    private CountingRequestBody(Stream inner) => _inner = inner;

    public long Bytes { get; private set; }

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

    private int Count(int read)
    {
        Bytes += read;
        return read;
    }
}
