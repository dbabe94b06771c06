using System.Buffers;
using System.IO.Pipelines;

namespace AseGateway.Http1Front;

/// <summary>
/// A request body the front waited for whole behind its head (<see cref="RequestHead.MaxBody"/>), as the request's
/// <c>BodyReader</c> and, through <see cref="Stream"/>, its <c>Body</c>: a window of <see cref="Reset"/>'s length
/// onto the connection's input, read where it lies. Every read completes at once, since the bytes are there, and what
/// the application consumes leaves the connection's pipe then, as it does through Kestrel's body: a body held until the
/// request ended kept a receive buffer per waiting request out of the pools, and fresh ones were allocated under load.
/// One per connection, reset for each request; a request without a body reads it empty. A chunked body
/// (<see cref="ResetChunked"/>) is the exception: its data is copied out of its framing into a pooled array, the window
/// is onto that array, and the framed bytes stay in the input until the request ends. A sized body longer than the
/// front waits for (<see cref="ResetStreamed"/>) is read as it arrives, while the request runs, as Kestrel reads one
/// (<c>FrontRequestBody.Streamed.cs</c>).
/// </summary>
internal sealed partial class FrontRequestBody(PipeReader input, FrontResponse response) : PipeReader
{
    private long _remaining;
    private bool _cancelPending;

    /// <summary>A chunked body's data, from the shared pool, while the request reads it; null otherwise.</summary>
    private byte[]? _decoded;

    /// <summary>Where the unread part of <see cref="_decoded"/> starts.</summary>
    private int _decodedOffset;

    /// <summary>The chunked body's bytes in the input, framing included, passed over when the request ends.</summary>
    private long _framedLength;

    /// <summary>The last window handed out, to count what the reader consumed of it.</summary>
    private ReadOnlySequence<byte> _window;

    private Stream? _stream;

    /// <summary>The body as a stream over the same bytes (what the WAF and YARP read).</summary>
    public Stream Stream => _stream ??= new BodyStream(this);

    /// <summary>The next <paramref name="length"/> bytes of the input, all of them there already, are the body.</summary>
    public void Reset(long length)
    {
        ReturnDecoded();
        _remaining = length;
        _cancelPending = false;
        _window = default;
        _streamed = false;
        _continuePending = false;
    }

    /// <summary>
    /// A chunked body that <see cref="ChunkedBodyScanner.Scan"/> found complete with <paramref name="dataLength"/> bytes
    /// of data, as <paramref name="framed"/> in the input (read while its head is): the data is copied out now, and the
    /// framed bytes are passed over when the request ends (<see cref="Skip"/>).
    /// </summary>
    public void ResetChunked(in ReadOnlySequence<byte> framed, int dataLength)
    {
        Reset(0);
        _decoded = ArrayPool<byte>.Shared.Rent(Math.Max(dataLength, 1));
        ChunkedBodyScanner.CopyData(framed, _decoded);
        _decodedOffset = 0;
        _framedLength = framed.Length;
        _remaining = dataLength;
    }

    /// <summary>
    /// The request ended: what the application left unread is passed over, so the next head follows. Of a streamed
    /// body, only what has arrived; the rest is <see cref="DrainAsync"/>'s, once the response is complete.
    /// </summary>
    public void Skip()
    {
        if (_streamed)
        {
            SkipArrived();
            return;
        }

        var unread = _decoded is null ? _remaining : _framedLength;
        if (unread > 0 && input.TryRead(out var result))
        {
            PassOver(result.Buffer, unread);
        }

        Reset(0);
    }

    /// <summary>Moves the input past up to <paramref name="unread"/> bytes of what it holds; returns how many.</summary>
    private long PassOver(in ReadOnlySequence<byte> buffer, long unread)
    {
        var passed = Math.Min(unread, buffer.Length);
        input.AdvanceTo(buffer.GetPosition(passed));
        return passed;
    }

    private void ReturnDecoded()
    {
        if (_decoded is { } decoded)
        {
            _decoded = null;
            ArrayPool<byte>.Shared.Return(decoded);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_streamed)
        {
            return TryReadStreamed(out result);
        }

        result = Read();
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _streamed ? ReadStreamedAsync(cancellationToken) : new ValueTask<ReadResult>(Read());
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_window.IsEmpty)
        {
            return;
        }

        var length = _window.Slice(0, consumed).Length;
        _remaining -= length;
        _window = default;
        if (_decoded is not null)
        {
            _decodedOffset += (int)length;
            return;
        }

        input.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead()
    {
        if (_streamed)
        {
            input.CancelPendingRead();
            return;
        }

        _cancelPending = true;
    }

    /// <summary>The input is the connection's: completing the body only ends this request's reading of it.</summary>
    public override void Complete(Exception? exception = null)
    {
    }

    /// <summary>The rest of the body, and always completed: the whole of it is in the input.</summary>
    private ReadResult Read()
    {
        if (_cancelPending)
        {
            _cancelPending = false;
            return new ReadResult(default, isCanceled: true, isCompleted: false);
        }

        if (_decoded is not null)
        {
            _window = new ReadOnlySequence<byte>(_decoded, _decodedOffset, (int)_remaining);
            return new ReadResult(_window, isCanceled: false, isCompleted: true);
        }

        if (_remaining == 0 || !input.TryRead(out var result))
        {
            return new ReadResult(default, isCanceled: false, isCompleted: true);
        }

        var buffer = result.Buffer;
        _window = buffer.Length > _remaining ? buffer.Slice(0, _remaining) : buffer;
        return new ReadResult(_window, isCanceled: false, isCompleted: true);
    }

    /// <summary>Copies from the input; synchronous reads too, since none waits.</summary>
    private int Read(Span<byte> destination) => CopyFrom(Read().Buffer, destination);

    /// <summary>Copies what fits of a window this body handed out, and consumes that much of it.</summary>
    private int CopyFrom(in ReadOnlySequence<byte> window, Span<byte> destination)
    {
        if (window.IsEmpty)
        {
            return 0;
        }

        // The count before the input moves on: the segments a sequence measures itself by go back to the pipe then.
        var count = (int)Math.Min(destination.Length, window.Length);
        var part = window.Slice(0, count);
        part.CopyTo(destination);
        AdvanceTo(part.End);
        return count;
    }

    /// <summary>
    /// Reads over the same state as the pipe. A streamed body's reads wait for the client, so it has no synchronous
    /// reads, as Kestrel has none unless <c>AllowSynchronousIO</c> is on; a body already here needs no waiting.
    /// </summary>
    private sealed class BodyStream(FrontRequestBody body) : Forwarding.ReadOnlyStream
    {
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer) =>
            body._streamed ? throw new InvalidOperationException("Synchronous operations are disallowed. Call ReadAsync instead.") : body.Read(buffer);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken)
            : body._streamed ? body.ReadStreamedAsync(buffer, cancellationToken)
            : new ValueTask<int>(body.Read(buffer.Span));
    }
}
