using System.Buffers;

namespace AseGateway.Waf;

/// <summary>
/// A whole request body the WAF read into one pooled array to inspect it, put in place of the request's body so the
/// proxy sends those same bytes on. It replaces <c>EnableBuffering</c> for bodies that fit the inspection limit: that
/// copied every byte three times more (into its own buffer, out to the WAF's array, out again to the proxy) and
/// left the WAF's array as garbage. The array goes back to the pool when the WAF's stage ends, which is after the
/// proxy is done with the body: YARP awaits its request body copy before it returns, and the fast path copies it
/// before the worker answers. A read after that fails rather than see bytes another request rented.
/// </summary>
internal sealed class InspectedRequestBody : Stream
{
    private byte[]? _buffer;
    private readonly int _length;
    private int _position;

    /// <param name="pooled">An array from <see cref="ArrayPool{T}.Shared"/>, which this stream now owns.</param>
    /// <param name="length">How many of its bytes are the body.</param>
    public InspectedRequestBody(byte[] pooled, int length)
    {
        _buffer = pooled;
        _length = length;
    }

    /// <summary>The whole body, for the rules.</summary>
    public ReadOnlyMemory<byte> Content => Buffer.AsMemory(0, _length);

    /// <summary>What has not been read yet, for a caller that sends it on without copying it out first.</summary>
    public ReadOnlyMemory<byte> Unread => Buffer.AsMemory(_position, _length - _position);

    /// <summary>Marks <paramref name="count"/> bytes of <see cref="Unread"/> as read.</summary>
    public void Consume(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _length - _position);
        _position += count;
    }

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(InspectedRequestBody), "The request body was read after its request ended.");

    public override bool CanRead => _buffer is not null;

    public override bool CanSeek => _buffer is not null;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, _length);
            _position = (int)value;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var unread = Unread.Span;
        var count = Math.Min(unread.Length, buffer.Length);
        unread[..count].CopyTo(buffer);
        _position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled<int>(cancellationToken) : Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : new(Read(buffer.Span));

    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        var unread = Unread;
        _position = _length;
        await destination.WriteAsync(unread, cancellationToken);
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => _length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Gives the array back to the pool; called once the request is done with its body.</summary>
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        base.Dispose(disposing);
    }
}
