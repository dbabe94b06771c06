using System.Buffers;
using System.IO.Pipelines;

namespace AseGateway.Http1Front;

/// <summary>
/// A request body the front read whole before the request started (<see cref="RequestHead.MaxBody"/>), as the
/// request's <c>BodyReader</c> and, through <see cref="Stream"/>, its <c>Body</c>: the connection's own buffers,
/// lent for the request and given back when it ends (<see cref="Clear"/>), so a read never waits and copies nothing
/// it does not hand out. One per connection, reset for each request; a request without a body reads it empty.
/// </summary>
internal sealed class FrontRequestBody : PipeReader
{
    private ReadOnlySequence<byte> _unread;
    private bool _cancelPending;

    public FrontRequestBody() => Stream = new BodyStream(this);

    /// <summary>The body as a stream over the same bytes (what the WAF and YARP read).</summary>
    public Stream Stream { get; }

    /// <summary>Lends the body's bytes for the request now starting.</summary>
    public void Reset(in ReadOnlySequence<byte> body)
    {
        _unread = body;
        _cancelPending = false;
    }

    /// <summary>The request ended: its bytes go back to the connection; a late read finds nothing.</summary>
    public void Clear() => Reset(ReadOnlySequence<byte>.Empty);

    public override bool TryRead(out ReadResult result)
    {
        result = Result();
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<ReadResult>(Result());
    }

    public override void AdvanceTo(SequencePosition consumed) => _unread = _unread.Slice(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => AdvanceTo(consumed);

    public override void CancelPendingRead() => _cancelPending = true;

    /// <summary>The reader is the connection's: completing it only ends this request's reading.</summary>
    public override void Complete(Exception? exception = null) => Clear();

    /// <summary>Everything still unread, and always completed: the whole body is here.</summary>
    private ReadResult Result()
    {
        var canceled = _cancelPending;
        _cancelPending = false;
        return new ReadResult(_unread, canceled, isCompleted: true);
    }

    /// <summary>Copies from the lent bytes; synchronous reads too, since none waits.</summary>
    private int Read(Span<byte> destination)
    {
        var count = (int)Math.Min(destination.Length, _unread.Length);
        var part = _unread.Slice(0, count);
        part.CopyTo(destination);
        _unread = _unread.Slice(part.End);
        return count;
    }

    private sealed class BodyStream(FrontRequestBody body) : Forwarding.ReadOnlyStream
    {
        public override int Read(byte[] buffer, int offset, int count) => body.Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer) => body.Read(buffer);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            cancellationToken.IsCancellationRequested ? Task.FromCanceled<int>(cancellationToken) : Task.FromResult(body.Read(buffer.AsSpan(offset, count)));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : new ValueTask<int>(body.Read(buffer.Span));
    }
}
