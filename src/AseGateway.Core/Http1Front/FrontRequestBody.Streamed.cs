using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Http1Front;

/// <summary>
/// A sized body longer than the front waits for: the request starts once its head is here, and the body is a window of
/// its remaining length onto the connection's input as it arrives, read where it lies (the fast path sends it on from
/// the input's own buffers). Kestrel's rules apply: a client that stops sending below the minimum data rate, counted
/// while a read waits for it (<see cref="IsWaiting"/>), is timed out; one that closes early has sent a bad request;
/// and what the application did not read is drained after the response (<see cref="DrainAsync"/>), up to
/// <see cref="DrainTimeout"/>, so that the connection goes on at the next head.
/// </summary>
internal sealed partial class FrontRequestBody
{
    /// <summary>Kestrel's <c>RequestBodyDrainTimeout</c>: how long an unread body may take to arrive after the response.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private bool _streamed;

    /// <summary>The streamed body's whole length, from its Content-Length.</summary>
    private long _length;

    /// <summary>Body bytes that have arrived (read or not), for the minimum data rate.</summary>
    private long _arrived;

    /// <summary>Milliseconds the reads so far waited for the client, and when the current wait began (0: none).</summary>
    private long _waitedBefore;
    private long _waitingSince;

    /// <summary>The heartbeat found the body too slow and cancelled the pending read.</summary>
    private volatile bool _timedOut;

    /// <summary>The client asked for a 100 Continue, and no read has waited for the body yet.</summary>
    private bool _continuePending;

    /// <summary>The body could not be read to its end (timed out, or the client closed or broke the connection).</summary>
    public bool Broken { get; private set; }

    /// <summary>A 100 Continue may still go out for this request: its body is streamed and the client asked for one.</summary>
    public bool ContinuePending => _continuePending;

    /// <summary>The request's body is streamed and not read to its end yet.</summary>
    public bool StreamedUnread => _streamed && _remaining > 0;

    /// <summary>The next <paramref name="length"/> bytes of the input are the body, still arriving.</summary>
    /// <param name="expectContinue">The client sent <c>Expect: 100-continue</c>: the first read that waits sends the 100.</param>
    public void ResetStreamed(long length, bool expectContinue)
    {
        Reset(length);
        _streamed = true;
        _continuePending = expectContinue;
        _length = length;
        _arrived = 0;
        _waitedBefore = 0;
        Volatile.Write(ref _waitingSince, 0);
        _timedOut = false;
        Broken = false;
    }

    /// <summary>
    /// For the heartbeat, while the request runs: whether a read is waiting for the client, and if so the milliseconds
    /// reads have waited so far and the body bytes that arrived in them, for the minimum data rate.
    /// </summary>
    public bool IsWaiting(long now, out long waitedMilliseconds, out long arrived)
    {
        var since = Volatile.Read(ref _waitingSince);
        waitedMilliseconds = since == 0 ? 0 : Volatile.Read(ref _waitedBefore) + (now - since);
        arrived = Volatile.Read(ref _arrived);
        return since != 0;
    }

    /// <summary>The body is too slow: the waiting read ends with Kestrel's 408 error.</summary>
    public void TimeOut()
    {
        _timedOut = true;
        input.CancelPendingRead();
    }

    private bool TryReadStreamed(out ReadResult result)
    {
        if (_remaining == 0)
        {
            result = new ReadResult(default, isCanceled: false, isCompleted: true);
            return true;
        }

        if (!input.TryRead(out var read))
        {
            result = default;
            return false;
        }

        result = Window(read);
        return true;
    }

    private ValueTask<ReadResult> ReadStreamedAsync(CancellationToken cancellationToken)
    {
        if (_remaining == 0)
        {
            return new ValueTask<ReadResult>(new ReadResult(default, isCanceled: false, isCompleted: true));
        }

        var read = input.ReadAsync(cancellationToken);
        return read.IsCompletedSuccessfully ? new ValueTask<ReadResult>(Window(read.Result)) : WaitAsync(read);
    }

    private async ValueTask<ReadResult> WaitAsync(ValueTask<ReadResult> read)
    {
        if (_continuePending)
        {
            // As Kestrel: only when the application waits for a body that has not come (and its answer has not started).
            _continuePending = false;
            await response.WriteContinueAsync();
        }

        Volatile.Write(ref _waitingSince, Environment.TickCount64);
        ReadResult result;
        try
        {
            result = await read;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Broken = true;
            throw new BadHttpRequestException("Unexpected end of request content.", StatusCodes.Status400BadRequest, ex);
        }
        finally
        {
            var since = Interlocked.Exchange(ref _waitingSince, 0);
            Volatile.Write(ref _waitedBefore, _waitedBefore + (Environment.TickCount64 - since));
        }

        return Window(result);
    }

    /// <summary>The body's part of what the input holds; Kestrel's errors for a body that timed out or ended early.</summary>
    private ReadResult Window(ReadResult read)
    {
        var buffer = read.Buffer;
        if (read.IsCanceled)
        {
            input.AdvanceTo(buffer.Start);
            if (_timedOut)
            {
                Broken = true;
                throw new BadHttpRequestException("Reading the request body timed out due to data arriving too slowly.", StatusCodes.Status408RequestTimeout);
            }

            return new ReadResult(default, isCanceled: true, isCompleted: false);
        }

        _window = buffer.Length > _remaining ? buffer.Slice(0, _remaining) : buffer;
        Volatile.Write(ref _arrived, _length - _remaining + _window.Length);
        if (_window.Length < _remaining && read.IsCompleted)
        {
            input.AdvanceTo(buffer.End);
            _window = default;
            Broken = true;
            throw new BadHttpRequestException("Unexpected end of request content.", StatusCodes.Status400BadRequest);
        }

        return new ReadResult(_window, isCanceled: false, isCompleted: _window.Length == _remaining);
    }

    /// <summary>At the request's end: what has arrived of the unread body is passed over now.</summary>
    private void SkipArrived()
    {
        if (_remaining > 0 && !Broken && input.TryRead(out var read) && !read.IsCanceled)
        {
            _remaining -= PassOver(read.Buffer, _remaining);
        }

        _window = default;
    }

    /// <summary>
    /// After the response: reads and drops the rest of a body the application left unread, so the next head follows;
    /// false when it did not all arrive within <see cref="DrainTimeout"/> (then the connection ends).
    /// </summary>
    public async ValueTask<bool> DrainAsync()
    {
        if (!_streamed || Broken)
        {
            return !Broken;
        }

        using var timeout = new CancellationTokenSource(DrainTimeout);
        try
        {
            while (_remaining > 0)
            {
                var read = await input.ReadAsync(timeout.Token);
                _remaining -= PassOver(read.Buffer, _remaining);
                if (_remaining > 0 && (read.IsCompleted || read.IsCanceled))
                {
                    return false;
                }
            }
        }
        catch (Exception)
        {
            // Timed out, or the connection failed: it ends here either way.
            return false;
        }

        return true;
    }

    /// <summary>A streamed body's read into a stream reader's buffer (the WAF's inspection array).</summary>
    private async ValueTask<int> ReadStreamedAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var result = await ReadStreamedAsync(cancellationToken);
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("Reading the request body was canceled.");
        }

        return CopyFrom(result.Buffer, destination.Span);
    }
}
