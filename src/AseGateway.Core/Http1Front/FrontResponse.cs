using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Http1Front;

/// <summary>
/// One connection's response, reused request after request: the response features and the body's writer. As in
/// Kestrel, body bytes written before the response starts wait until it does, so a response the application completes
/// without flushing leaves in one write with its head, framed by its length; once started, a body without a
/// Content-Length is chunked. The head is built and checked whole (names tokens, values visible ASCII) before any byte of
/// it reaches the connection, so an invalid header never leaves half a head behind.
/// </summary>
internal sealed partial class FrontResponse : PipeWriter, IHttpResponseFeature, IHttpResponseBodyFeature
{
    private const int MinimumScratch = 4096;

    private readonly PipeWriter _output;
    private readonly FrontHeaders _headers = new();
    private IHeaderDictionary _currentHeaders;
    private Stream? _stream;
    private Stream? _bodyOverride;
    private byte[] _scratch = [];
    private byte[] _head = [];
    private int _headLength;
    private int _pending;
    private long _contentLength;
    private long _written;
    private Framing _framing;
    private bool _requestIsHead;
    private bool _closeRequested;
    private bool _http10;
    private bool _completed;

    /// <summary>Read by the connection's close callback on another thread: see <see cref="EndWritten"/>.</summary>
    private bool _endWritten;

    /// <summary>A 100 Continue may still go out (the client asked, its body is streamed): the response's start and the 100 are ordered under <see cref="_continueGate"/>.</summary>
    private bool _mayContinue;
    private bool _startClaimed;
    private Task? _continueFlush;
    private readonly Lock _continueGate = new();
    private List<(Func<object, Task> Callback, object State)>? _onStarting;
    private List<(Func<object, Task> Callback, object State)>? _onCompleted;

    public FrontResponse(PipeWriter output)
    {
        _output = output;
        _currentHeaders = _headers;
    }

    private enum Framing : byte
    {
        /// <summary>No body goes out: HEAD, 1xx, 204, 304. What the application writes is dropped.</summary>
        None,
        ContentLength,
        Chunked,

        /// <summary>An HTTP/1.0 client's body of unknown length: sent as it is, ended by closing the connection.</summary>
        UntilClose,
    }

    public int StatusCode { get; set; } = StatusCodes.Status200OK;

    public string? ReasonPhrase { get; set; }

    public IHeaderDictionary Headers
    {
        get => _currentHeaders;
        set => _currentHeaders = value;
    }

    [Obsolete("Use IHttpResponseBodyFeature.Stream instead.", error: false)]
    public Stream Body
    {
        get => _bodyOverride ?? Stream;
        set => _bodyOverride = value;
    }

    public bool HasStarted { get; private set; }

    /// <summary>The head said <c>Connection: close</c> (the request's or the application's): the connection ends after it.</summary>
    public bool CloseAfter { get; private set; }

    /// <summary>The body's framing cannot be finished (an error after the head left, a body shorter than its length): the connection must be cut.</summary>
    public bool MustAbort { get; private set; }

    /// <summary>
    /// The response's framed end is in the output (its last Content-Length byte, its last chunk, or a head without a
    /// body), so a client that reads it may close before the request's end runs. As Kestrel's
    /// <c>PreventRequestAbortedCancellation</c>: a close after this point no longer aborts the request.
    /// </summary>
    public bool EndWritten => Volatile.Read(ref _endWritten);

    public Stream Stream => _stream ??= AsStream(leaveOpen: true);

    public PipeWriter Writer => this;

    /// <param name="http10">The request is HTTP/1.0: no chunks in the answer, and <c>Connection: keep-alive</c> when it stays open.</param>
    /// <param name="mayContinue">The request sent <c>Expect: 100-continue</c> and its body is still to come (<see cref="WriteContinueAsync"/>).</param>
    public void Reset(bool requestIsHead, bool closeRequested, bool http10, bool mayContinue)
    {
        StatusCode = StatusCodes.Status200OK;
        ReasonPhrase = null;
        _headers.IsReadOnly = false;
        _headers.Clear();
        _currentHeaders = _headers;
        _bodyOverride = null;
        HasStarted = false;
        CloseAfter = false;
        MustAbort = false;
        _completed = false;
        Volatile.Write(ref _endWritten, false);
        _pending = 0;
        _written = 0;
        _contentLength = 0;
        _framing = Framing.None;
        _requestIsHead = requestIsHead;
        _closeRequested = closeRequested;
        _http10 = http10;
        _mayContinue = mayContinue;
        _startClaimed = false;
        _continueFlush = null;
        _onStarting?.Clear();
        _onCompleted?.Clear();
    }

    /// <summary>Returns the connection's buffers to the pool when it ends.</summary>
    public void Release()
    {
        Return(ref _scratch);
        Return(ref _head);
    }

    public void OnStarting(Func<object, Task> callback, object state)
    {
        if (HasStarted)
        {
            throw new InvalidOperationException("OnStarting cannot be set because the response has already started.");
        }

        (_onStarting ??= []).Add((callback, state));
    }

    public void OnCompleted(Func<object, Task> callback, object state) => (_onCompleted ??= []).Add((callback, state));

    /// <summary>
    /// Runs the OnCompleted callbacks, last registered first, as Kestrel does; their failures are the caller's to log.
    /// Callbacks that finish at once (a scope's disposal, a log line) are run without an async state machine.
    /// </summary>
    public Task FireOnCompletedAsync(Action<Exception> failed)
    {
        if (_onCompleted is not { Count: > 0 } callbacks)
        {
            return Task.CompletedTask;
        }

        for (var i = callbacks.Count - 1; i >= 0; i--)
        {
            Task task;
            try
            {
                task = callbacks[i].Callback(callbacks[i].State);
            }
            catch (Exception ex)
            {
                failed(ex);
                continue;
            }

            if (!task.IsCompletedSuccessfully)
            {
                return FireRestAsync(task, i, failed);
            }
        }

        return Task.CompletedTask;
    }

    private async Task FireRestAsync(Task pending, int index, Action<Exception> failed)
    {
        var callbacks = _onCompleted!;
        for (var i = index; i >= 0; i--)
        {
            try
            {
                await (i == index ? pending : callbacks[i].Callback(callbacks[i].State));
            }
            catch (Exception ex)
            {
                failed(ex);
            }
        }
    }

    public void DisableBuffering()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => StartAsync(appCompleted: false);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(Stream, path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        if (_completed)
        {
            return;
        }

        await StartAsync(appCompleted: true);
        EndBody();
        await _output.FlushAsync();
    }

    /// <summary>
    /// Finishes the response once the application is done: a 500 in place of a response that failed before it started,
    /// the head if it has not left yet, the last chunk, and a flush. True when the connection can take another request.
    /// </summary>
    public async ValueTask<bool> EndAsync(Exception? failure)
    {
        if (failure is not null)
        {
            if (HasStarted)
            {
                MustAbort = true;
                return false;
            }

            SetServerError();

            // A body that timed out or ended early: Kestrel answers with the error's own status (408, 400).
            if (failure is Microsoft.AspNetCore.Http.BadHttpRequestException badRequest)
            {
                StatusCode = badRequest.StatusCode;
            }
        }

        if (!HasStarted)
        {
            try
            {
                await StartAsync(appCompleted: true);
            }
            catch (InvalidOperationException) when (!HasStarted)
            {
                // Headers that cannot be written, a length the body does not match: Kestrel's answer, a bare 500.
                SetServerError();
                Start(appCompleted: true);
            }
        }

        if (_framing == Framing.ContentLength && _written < _contentLength)
        {
            MustAbort = true;
            return false;
        }

        EndBody();
        var flushed = await _output.FlushAsync();
        return !flushed.IsCompleted && !flushed.IsCanceled && !CloseAfter;
    }

    public override void Advance(int bytes)
    {
        if (!HasStarted)
        {
            _pending += bytes;
            return;
        }

        switch (_framing)
        {
            case Framing.ContentLength:
                if (_written + bytes > _contentLength)
                {
                    throw new InvalidOperationException($"Response Content-Length mismatch: too many bytes written ({_written + bytes} of {_contentLength}).");
                }

                _written += bytes;
                NoteEndIfWritten();
                _output.Advance(bytes);
                break;
            case Framing.Chunked:
                _written += bytes;
                WriteChunk(_scratch.AsSpan(0, bytes));
                break;
            case Framing.UntilClose:
                _written += bytes;
                _output.Advance(bytes);
                break;
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ThrowIfCompleted();
        if (HasStarted && _framing is Framing.ContentLength or Framing.UntilClose)
        {
            return _output.GetMemory(sizeHint);
        }

        // Before the start the bytes wait in the scratch buffer after those already there; after it, a chunk's bytes
        // (or dropped ones) are staged there.
        var offset = HasStarted ? 0 : _pending;
        EnsureScratch(offset + Math.Max(sizeHint, 1));
        return _scratch.AsMemory(offset);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        HasStarted ? _output.FlushAsync(cancellationToken) : StartThenFlushAsync(cancellationToken);

    public override void CancelPendingFlush() => _output.CancelPendingFlush();

    /// <summary>The application is done with the body; the request's end still frames and flushes it.</summary>
    public override void Complete(Exception? exception = null)
    {
    }

    private async ValueTask<FlushResult> StartThenFlushAsync(CancellationToken cancellationToken)
    {
        await StartAsync(appCompleted: false);
        return await _output.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// The interim <c>100 Continue</c>, written and flushed unless the response is starting: the application may read
    /// the body on one thread while its answer starts on another (YARP copies both ways at once), so the two claim the
    /// output in turn under a gate, and the response's start waits for a 100 still being flushed.
    /// </summary>
    public ValueTask WriteContinueAsync()
    {
        lock (_continueGate)
        {
            if (_startClaimed)
            {
                return default;
            }

            _output.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
            var flush = _output.FlushAsync();
            if (flush.IsCompletedSuccessfully)
            {
                _ = flush.Result;
                return default;
            }

            _continueFlush = flush.AsTask();
            return new ValueTask(_continueFlush);
        }
    }

    private Task StartAsync(bool appCompleted)
    {
        if (HasStarted)
        {
            return Task.CompletedTask;
        }

        if (_mayContinue)
        {
            return StartAfterContinueAsync(appCompleted);
        }

        if (_onStarting is { Count: > 0 })
        {
            return RunOnStartingThenStartAsync(appCompleted);
        }

        Start(appCompleted);
        return Task.CompletedTask;
    }

    /// <summary>Claims the output from <see cref="WriteContinueAsync"/> (no 100 after this), and starts once a 100 in flight has been flushed.</summary>
    private async Task StartAfterContinueAsync(bool appCompleted)
    {
        Task? continueFlush;
        lock (_continueGate)
        {
            _startClaimed = true;
            continueFlush = _continueFlush;
        }

        _mayContinue = false;
        if (continueFlush is not null)
        {
            await continueFlush;
        }

        await StartAsync(appCompleted);
    }

    private async Task RunOnStartingThenStartAsync(bool appCompleted)
    {
        // Last registered first, as Kestrel runs them; a callback may register another, which runs too.
        var callbacks = _onStarting!;
        while (callbacks.Count > 0)
        {
            var (callback, state) = callbacks[^1];
            callbacks.RemoveAt(callbacks.Count - 1);
            await callback(state);
        }

        if (!HasStarted)
        {
            Start(appCompleted);
        }
    }

    /// <summary>Chooses the framing, writes the head and the body written so far. Throws, leaving nothing written, for a head that cannot be sent.</summary>
    private void Start(bool appCompleted)
    {
        var headers = _currentHeaders;
        var status = StatusCode;
        var bodyless = _requestIsHead || status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified || status < 200;
        var framing = Framing.None;
        long contentLength = 0;
        if (!bodyless)
        {
            if (headers.ContentLength is { } length)
            {
                framing = Framing.ContentLength;
                contentLength = length;
                if (appCompleted && _pending != length)
                {
                    throw new InvalidOperationException($"Response Content-Length mismatch: {_pending} of {length} bytes written.");
                }

                if (_pending > length)
                {
                    throw new InvalidOperationException($"Response Content-Length mismatch: too many bytes written ({_pending} of {length}).");
                }
            }
            else if (appCompleted)
            {
                // The whole body is here: its length frames it (Kestrel would set 0, or chunk what was written).
                framing = Framing.ContentLength;
                contentLength = _pending;
                headers.ContentLength = _pending;
            }
            else if (headers.ContainsKey(HeaderNames.TransferEncoding))
            {
                throw new InvalidOperationException("Transfer-Encoding is the server's to set on an HTTP/1.x response.");
            }
            else if (_http10)
            {
                // RFC 9112 §6.1: no Transfer-Encoding to an HTTP/1.0 client; the close ends the body, as Kestrel does.
                framing = Framing.UntilClose;
            }
            else
            {
                framing = Framing.Chunked;
                headers[HeaderNames.TransferEncoding] = "chunked";
            }
        }

        var close = _closeRequested || framing == Framing.UntilClose || HasCloseOption(headers);
        BuildHead(status, headers, close);

        // As Kestrel's: a header set after the head left throws instead of vanishing.
        _headers.IsReadOnly = true;
        HasStarted = true;
        CloseAfter = close;
        _framing = framing;
        _contentLength = contentLength;
        _output.Write(_head.AsSpan(0, _headLength));
        var pending = _scratch.AsSpan(0, _pending);
        _pending = 0;
        _written = pending.Length;
        NoteEndIfWritten();

        if (framing is Framing.ContentLength or Framing.UntilClose)
        {
            _output.Write(pending);
        }
        else if (framing == Framing.Chunked)
        {
            WriteChunk(pending);
        }
    }

    /// <summary>
    /// Once the head (and what the body had so far) or more body bytes are in the output: a head without a body, or the
    /// last byte of a Content-Length body, is the response's framed end (<see cref="EndWritten"/>). A chunked body's
    /// end is its last chunk (<see cref="EndBody"/>); one that the close ends has none before it.
    /// </summary>
    private void NoteEndIfWritten()
    {
        if (_framing == Framing.None || (_framing == Framing.ContentLength && _written == _contentLength))
        {
            Volatile.Write(ref _endWritten, true);
        }
    }

    private void EndBody()
    {
        if (!_completed && _framing == Framing.Chunked)
        {
            _output.Write("0\r\n\r\n"u8);
            Volatile.Write(ref _endWritten, true);
        }

        _completed = true;
    }

    private void SetServerError()
    {
        _headers.IsReadOnly = false;
        _headers.Clear();
        _currentHeaders = _headers;
        StatusCode = StatusCodes.Status500InternalServerError;
        ReasonPhrase = null;
        _pending = 0;
        _closeRequested = true;
    }

    private void WriteChunk(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var prefix = _output.GetSpan(18);
        Utf8Formatter.TryFormat((uint)data.Length, prefix, out var digits, new System.Buffers.StandardFormat('x'));
        prefix[digits] = (byte)'\r';
        prefix[digits + 1] = (byte)'\n';
        _output.Advance(digits + 2);
        _output.Write(data);
        _output.Write("\r\n"u8);
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw new InvalidOperationException("The response body is complete; nothing more can be written.");
        }
    }

    private void EnsureScratch(int size)
    {
        if (_scratch.Length >= size)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(size, Math.Max(MinimumScratch, _scratch.Length * 2)));
        _scratch.AsSpan(0, _pending).CopyTo(larger);
        Return(ref _scratch);
        _scratch = larger;
    }

    private static void Return(ref byte[] buffer)
    {
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        buffer = [];
    }

    private static bool HasCloseOption(IHeaderDictionary headers)
    {
        if (!headers.TryGetValue(HeaderNames.Connection, out var values))
        {
            return false;
        }

        foreach (var value in values)
        {
            if (value is not null && value.Contains("close", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static string ReasonFor(int status, string? given) => given ?? ReasonPhrases.GetReasonPhrase(status);
}
