using System.IO.Pipelines;

namespace AseGateway.Http1Front;

/// <summary>
/// The client's input as Kestrel reads it after the front. The front stops inside a read, the head it does not serve
/// neither consumed nor examined, and that read's result is Kestrel's first: Kestrel's <c>AdvanceTo</c> ends it as if
/// Kestrel had read it itself. (A read already ended cannot be given back: a <see cref="Pipe"/>'s reader waits for
/// new bytes once everything it holds was examined, and an examined position cannot move back.)
/// </summary>
internal sealed class ReplayingReader(PipeReader inner, ReadResult first) : PipeReader
{
    private bool _replayed;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_replayed)
        {
            return inner.ReadAsync(cancellationToken);
        }

        _replayed = true;
        return new ValueTask<ReadResult>(first);
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_replayed)
        {
            return inner.TryRead(out result);
        }

        _replayed = true;
        result = first;
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
}
