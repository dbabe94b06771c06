using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Microsoft.Extensions.Logging;

namespace AseGateway.Http1Front;

/// <summary>
/// One client connection while the front serves it: reads each request head and the body its Content-Length or chunks frame
/// (a sized body longer than <see cref="RequestHead.MaxBody"/> as it arrives, while the request runs), runs the
/// application over the connection's own features (<c>FrontConnection.Features.cs</c>), ends the response, and goes
/// round again. A head the front does not take stops it with the head unread, and the connection goes on in
/// Kestrel. Kestrel's timeouts apply through <see cref="Http1FrontHeartbeat"/>: a connection idle for the keep-alive
/// time, with half a head for the request-headers time, or with a body arriving slower than the minimum data rate
/// after its grace period, is closed; a shutdown closes it between requests.
/// </summary>
/// <remarks>
/// Not generic over the application's context type: the application is three calls of the subclass
/// (<see cref="FrontConnection{TContext}"/>). Async methods of a generic class instantiated over a reference type run
/// as shared code, and each await looked its state machine's box type up in the runtime (about 1% of the process's
/// samples, in libcoreclr under the front's loop). The request is served inside the connection's loop for the same
/// reason: a method of its own was a state machine boxed for every request, as each suspends on the worker's answer.
/// </remarks>
internal abstract partial class FrontConnection : IHeartbeatWatched, IDisposable
{
    private const int Idle = 0;
    private const int HeadPending = 1;
    private const int Busy = 2;

    private static readonly long GraceMilliseconds = (long)Model.LimitsModel.DataRateGracePeriod.TotalMilliseconds;

    private readonly ConnectionContext _connection;
    private readonly FrontSettings _settings;
    private readonly PipeReader _input;
    private readonly RequestHead _head = new();
    private readonly FrontResponse _response;
    private readonly int _maxHeadBytes;
    private int _state;
    private long _waitingSince;
    private int _ending;

    /// <summary>When the head of a request whose body is still arriving was complete (0: none), and how much came since.</summary>
    private long _bodyWaitSince;
    private long _bodyReceived;
    private ReadResult _handOffRead;
    private readonly Action<Exception> _onCompletedFailed;

    protected FrontConnection(ConnectionContext connection, FrontSettings settings)
    {
        _connection = connection;
        _settings = settings;
        _input = connection.Transport.Input;
        _response = new FrontResponse(connection.Transport.Output);
        _body = new FrontRequestBody(_input, _response);
        _maxHeadBytes = settings.Limits.MaxRequestHeadersTotalSize;
        _onCompletedFailed = exception => LogApplicationError(_settings.Logger, _connection.ConnectionId, exception);
        InitializeFeatures();
    }

    /// <summary>Serves requests until the connection ends (false) or a request is Kestrel's (true).</summary>
    public async Task<bool> ServeAsync()
    {
        _settings.Heartbeat.Add(this);
        var closeRequested = _connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        var onCloseRequested = closeRequested.UnsafeRegister(static state => ((FrontConnection)state!).End(), this);
        var onClosed = _connection.ConnectionClosed.UnsafeRegister(static state => ((FrontConnection)state!).OnConnectionClosed(), this);
        try
        {
            return await ServeRequestsAsync();
        }
        finally
        {
            _settings.Heartbeat.Remove(this);
            await onCloseRequested.DisposeAsync();
            await onClosed.DisposeAsync();
            _response.Release();
        }
    }

    public void Dispose() => _aborting.Dispose();

    /// <summary>The application's context for the request just read (hosting's, reused through the subclass).</summary>
    protected abstract void CreateContext();

    protected abstract Task ProcessRequestAsync();

    protected abstract void DisposeContext(Exception? failure);

    /// <summary>The transport Kestrel continues on: its first read returns the unread head at once.</summary>
    public IDuplexPipe HandOffTransport() => new KestrelTransport(new ReplayingReader(_input, _handOffRead), _connection.Transport.Output);

    public void OnHeartbeat(long now)
    {
        if (Volatile.Read(ref _ending) != 0)
        {
            return;
        }

        var state = Volatile.Read(ref _state);
        if (state == Busy)
        {
            // A streamed body the request is waiting on: Kestrel's minimum data rate, over the time reads waited.
            if (_body.IsWaiting(now, out var waited, out var arrived) && BodyTooSlow(waited, arrived))
            {
                LogTimedOut(_settings.Logger, _connection.ConnectionId, "request body");
                Interlocked.Exchange(ref _ending, 1);
                _body.TimeOut();
            }

            return;
        }

        if (state == HeadPending && Volatile.Read(ref _bodyWaitSince) is var since and not 0)
        {
            if (BodyTooSlow(now - since, Volatile.Read(ref _bodyReceived)))
            {
                LogTimedOut(_settings.Logger, _connection.ConnectionId, "request body");
                End();
            }

            return;
        }

        var limit = state switch
        {
            Idle => _settings.Limits.KeepAliveTimeout,
            HeadPending => _settings.Limits.RequestHeadersTimeout,
            _ => Timeout.InfiniteTimeSpan,
        };
        if (limit > TimeSpan.Zero && now - Volatile.Read(ref _waitingSince) > (long)limit.TotalMilliseconds)
        {
            LogTimedOut(_settings.Logger, _connection.ConnectionId, state == Idle ? "keep-alive" : "request headers");
            End();
        }
    }

    /// <summary>
    /// Kestrel's rule for a body, once its head is complete: after the grace period, the bytes received must keep up
    /// with the minimum rate (none when it is off). The head's own time no longer applies, as in Kestrel.
    /// </summary>
    private bool BodyTooSlow(long waitedMilliseconds, long received)
    {
        var rate = _settings.Limits.MinRequestBodyBytesPerSecond;
        return rate > 0 && waitedMilliseconds > GraceMilliseconds && received < rate * waitedMilliseconds / 1000;
    }

    /// <summary>Ends the connection at the next request boundary; a wait for a request ends now.</summary>
    private void End()
    {
        // A full fence each side (here and where the loop starts a wait): the loop either sees the end or is seen waiting.
        Interlocked.Exchange(ref _ending, 1);
        if (Volatile.Read(ref _state) != Busy)
        {
            _input.CancelPendingRead();
        }
    }

    private async Task<bool> ServeRequestsAsync()
    {
        var pending = false;
        while (true)
        {
            if (!pending)
            {
                Volatile.Write(ref _waitingSince, Environment.TickCount64);
                Interlocked.Exchange(ref _state, Idle);
            }

            if (Volatile.Read(ref _ending) != 0)
            {
                return false;
            }

            ReadResult result;
            try
            {
                result = await _input.ReadAsync();
            }
            catch (Exception ex) when (ex is IOException or ConnectionAbortedException or ConnectionResetException)
            {
                // Reset or aborted between requests: nothing to answer, nothing to report (Kestrel logs it at Debug).
                return false;
            }

            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                _input.AdvanceTo(buffer.Start);
                continue;
            }

            switch (ReadHead(buffer))
            {
                case HeadParseResult.Complete:
                    Volatile.Write(ref _state, Busy);
                    pending = false;
                    Volatile.Write(ref _bodyWaitSince, 0);

                    // A body is read from the input after the head, where it waits whole (FrontRequestBody).
                    _input.AdvanceTo(buffer.GetPosition(_head.Length));

                    // The request, through the application; then its response is ended and its callbacks run.
                    CreateContext();
                    Exception? failure = null;
                    try
                    {
                        await ProcessRequestAsync();
                    }
                    catch (Exception ex)
                    {
                        failure = ex;
                        OnApplicationFailed(ex);
                    }

                    // Read or not, the body is passed: the next head starts right after it.
                    EndRequestBody();

                    bool reusable;
                    try
                    {
                        reusable = await _response.EndAsync(failure);
                    }
                    catch (Exception ex)
                    {
                        // An OnStarting callback, or the client gone while the response was flushed.
                        failure ??= ex;
                        reusable = false;
                        OnEndFailed(ex);
                    }

                    if (_response.MustAbort)
                    {
                        _connection.Abort(new ConnectionAbortedException("The response could not be completed as framed."));
                    }

                    // A streamed body the application left unread is read to its end, after the response, for the
                    // next head; one that broke (timed out, ended early) ends the connection.
                    if (reusable && !_aborted && _body.StreamedUnread)
                    {
                        reusable = await _body.DrainAsync();
                    }

                    reusable &= !_body.Broken;

                    await _response.FireOnCompletedAsync(_onCompletedFailed);
                    DisposeContext(failure);

                    // The request has ended: its feature, kept for the next one, lets go of what it pointed to.
                    GatewayRequest?.Clear();
                    if (!reusable || _aborted || Volatile.Read(ref _ending) != 0)
                    {
                        return false;
                    }

                    break;

                case HeadParseResult.Unsupported:
                    // The read stays open for Kestrel (ReplayingReader); Busy keeps the heartbeat and a shutdown off it.
                    Interlocked.Exchange(ref _state, Busy);
                    _handOffRead = result;
                    LogHandedOff(_settings.Logger, _connection.ConnectionId);
                    return true;

                default:
                    if (result.IsCompleted)
                    {
                        // The client closed inside a head, or between requests: nothing to answer.
                        _input.AdvanceTo(buffer.End);
                        return false;
                    }

                    if (!pending && !buffer.IsEmpty)
                    {
                        pending = true;
                        Volatile.Write(ref _waitingSince, Environment.TickCount64);
                        Interlocked.Exchange(ref _state, HeadPending);
                    }

                    _input.AdvanceTo(buffer.Start, buffer.End);
                    break;
            }
        }
    }

    /// <summary>
    /// Parses the head at the buffer's start and, when it and its body are complete, reads them into the request
    /// features. A head whose body is still arriving is Incomplete, its wait timed by the body's rule.
    /// </summary>
    private HeadParseResult ReadHead(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return HeadParseResult.Incomplete;
        }

        // A head already read, whose body is still arriving: not parsed again until all of it is here.
        if (Volatile.Read(ref _bodyWaitSince) != 0 && buffer.Length < _head.Length + _head.ContentLength)
        {
            Volatile.Write(ref _bodyReceived, buffer.Length - _head.Length);
            return HeadParseResult.Incomplete;
        }

        // Most heads end in the pipe's first segment, whatever body follows them.
        var parsed = ReadHead(buffer.FirstSpan, buffer, out var headEnded);
        if (parsed != HeadParseResult.Incomplete || headEnded || buffer.IsSingleSegment)
        {
            return parsed;
        }

        // A head across the pipe's segments is read from a copy, rented for the moment (a browser's head is under a page).
        var length = (int)Math.Min(buffer.Length, _maxHeadBytes);
        var copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            buffer.Slice(0, length).CopyTo(copy);
            return ReadHead(copy.AsSpan(0, length), buffer, out _);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <param name="bytes">The head's bytes, from the buffer or a copy of its start.</param>
    /// <param name="buffer">All that has arrived: the head and what follows it.</param>
    /// <param name="headEnded">The head is complete (its body may not be).</param>
    private HeadParseResult ReadHead(ReadOnlySpan<byte> bytes, in ReadOnlySequence<byte> buffer, out bool headEnded)
    {
        var parsed = RequestHeadParser.TryParse(bytes, _head, _maxHeadBytes);
        headEnded = parsed == HeadParseResult.Complete;
        if (!headEnded)
        {
            return parsed;
        }

        var received = buffer.Length - _head.Length;
        if (_head.Chunked)
        {
            var framed = buffer.Slice(_head.Length);
            var body = ChunkedBodyScanner.Scan(framed, out var wireLength, out var dataLength);
            if (body != HeadParseResult.Complete)
            {
                return body == HeadParseResult.Incomplete ? WaitForBody(received) : body;
            }

            _body.ResetChunked(framed.Slice(0, wireLength), dataLength);
        }
        else if (_head.ContentLength > RequestHead.MaxBody || (_head.ExpectContinue && received < _head.ContentLength))
        {
            // Kestrel refuses a body over the listener's limit with a 413; a longer one than the front waits for is
            // read as it arrives, while the request runs, and so is one the client holds back until a 100 Continue.
            if (_head.ContentLength > _settings.Limits.MaxRequestBodySize)
            {
                return HeadParseResult.Unsupported;
            }

            _body.ResetStreamed(_head.ContentLength, _head.ExpectContinue);
        }
        else if (received < _head.ContentLength)
        {
            return WaitForBody(received);
        }
        else
        {
            _body.Reset(_head.ContentLength);
        }

        ReadRequest(bytes);
        return HeadParseResult.Complete;
    }

    /// <summary>The head is complete and its body is still arriving: the wait is timed by the body's rule.</summary>
    private HeadParseResult WaitForBody(long received)
    {
        if (Volatile.Read(ref _bodyWaitSince) == 0)
        {
            Volatile.Write(ref _bodyWaitSince, Environment.TickCount64);
        }

        Volatile.Write(ref _bodyReceived, received);
        _head.ForgetFields();
        return HeadParseResult.Incomplete;
    }

    private void OnApplicationFailed(Exception exception)
    {
        // A request given up because its client went away is not the application's error (nor is it for Kestrel).
        if (!(exception is OperationCanceledException && _aborting.IsCancellationRequested))
        {
            LogApplicationError(_settings.Logger, _connection.ConnectionId, exception);
        }
    }

    private void OnEndFailed(Exception exception)
    {
        if (!_response.HasStarted)
        {
            LogApplicationError(_settings.Logger, _connection.ConnectionId, exception);
        }
    }

    [LoggerMessage(EventId = Logging.EventIds.Http1FrontApplicationError, Level = LogLevel.Error, Message = "Connection {ConnectionId}: an unhandled exception was thrown by the application.")]
    private static partial void LogApplicationError(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = Logging.EventIds.Http1FrontHandedOff, Level = LogLevel.Debug, Message = "Connection {ConnectionId}: a request the HTTP/1.1 front does not serve; Kestrel reads it and the rest of the connection.")]
    private static partial void LogHandedOff(ILogger logger, string connectionId);

    [LoggerMessage(EventId = Logging.EventIds.Http1FrontTimedOut, Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed: its {Timeout} time passed.")]
    private static partial void LogTimedOut(ILogger logger, string connectionId, string timeout);

    private sealed class KestrelTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}

/// <summary>A connection of the front with the application's context type: hosting reuses its context through it.</summary>
internal sealed class FrontConnection<TContext>(ConnectionContext connection, IHttpApplication<TContext> application, FrontSettings settings)
    : FrontConnection(connection, settings), IHostContextContainer<TContext>
    where TContext : notnull
{
    private TContext? _context;

    public TContext? HostContext { get; set; }

    protected override void CreateContext() => _context = application.CreateContext(this);

    protected override Task ProcessRequestAsync() => application.ProcessRequestAsync(_context!);

    protected override void DisposeContext(Exception? failure)
    {
        var context = _context!;
        _context = default;
        application.DisposeContext(context, failure);
    }
}
