using System.Buffers;
using System.IO.Pipelines;

namespace AseGateway.Waf;

/// <summary>
/// A request body of known length whose first part (all of it, when it fits the inspection limit) the WAF read into
/// one pooled array to inspect it, put in place of the request's body: the proxy sends those same bytes on, then the
/// rest as the client sends it. It replaces <c>EnableBuffering</c> wherever the Content-Length is known. That copied
/// every byte three times more (into its own buffer, out to the WAF's array, out again to the proxy), past 64 KiB into
/// a temporary file, and read the whole body first when the policy enforces a size limit, which the Content-Length
/// already enforces (the server's framing holds the body to it). The array goes back to the pool when the WAF's stage
/// ends, which is after the proxy is done with the body: YARP awaits its request body copy before it returns, and the
/// fast path copies it before the worker answers. A read after that fails rather than see bytes another request
/// rented.
/// </summary>
internal sealed class InspectedRequestBody : Stream
{
    private byte[]? _buffer;
    private readonly int _length;
    private readonly Stream? _rest;
    private int _position;

    /// <param name="pooled">An array from <see cref="InspectionBuffers.Rent"/>, which this stream now owns.</param>
    /// <param name="length">How many of its bytes are the body's (first part).</param>
    /// <param name="rest">The server's body stream the rest comes from, or null when the array holds all of it.</param>
    /// <param name="restReader">The server's body pipe, for the same rest, read without a stream around it.</param>
    public InspectedRequestBody(byte[] pooled, int length, Stream? rest = null, PipeReader? restReader = null)
    {
        _buffer = pooled;
        _length = length;
        _rest = rest;
        RestReader = restReader;
    }

    /// <summary>The inspected bytes, for the rules.</summary>
    public ReadOnlyMemory<byte> Content => Buffer.AsMemory(0, _length);

    /// <summary>What has not been read yet of the inspected bytes, for a caller that sends it on without copying it out first.</summary>
    public ReadOnlyMemory<byte> Unread => Buffer.AsMemory(_position, _length - _position);

    /// <summary>The server's body pipe the rest of the body comes from, after <see cref="Unread"/>; null when there is no rest.</summary>
    public PipeReader? RestReader { get; }

    /// <summary>More of the body may follow the array's bytes, from the server's body.</summary>
    public bool HasRest => _rest is not null;

    /// <summary>Marks <paramref name="count"/> bytes of <see cref="Unread"/> as read.</summary>
    public void Consume(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _length - _position);
        _position += count;
    }

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(InspectedRequestBody), "The request body was read after its request ended.");

    public override bool CanRead => _buffer is not null;

    /// <summary>Seekable (as a buffered body is) only when the array holds the whole body.</summary>
    public override bool CanSeek => _buffer is not null && _rest is null;

    public override bool CanWrite => false;

    public override long Length => CanSeek ? _length : throw new NotSupportedException();

    public override long Position
    {
        get => CanSeek ? _position : throw new NotSupportedException();
        set
        {
            if (!CanSeek)
            {
                throw new NotSupportedException();
            }

            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, _length);
            _position = (int)value;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var unread = Unread.Span;
        if (unread.IsEmpty && _rest is not null)
        {
            return _rest.Read(buffer);
        }

        var count = Math.Min(unread.Length, buffer.Length);
        unread[..count].CopyTo(buffer);
        _position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        return Unread.IsEmpty && _rest is not null ? _rest.ReadAsync(buffer, cancellationToken) : new(Read(buffer.Span));
    }

    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        var unread = Unread;
        _position = _length;
        await destination.WriteAsync(unread, cancellationToken);
        if (_rest is not null)
        {
            await _rest.CopyToAsync(destination, bufferSize, cancellationToken);
        }
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            SeekOrigin.End => Length + offset,
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
            InspectionBuffers.Return(buffer);
        }

        base.Dispose(disposing);
    }
}
