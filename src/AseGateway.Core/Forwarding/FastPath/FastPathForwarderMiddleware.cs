using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using AseGateway.Affinity;
using AseGateway.Networking;
using AseGateway.Networking.EventLoop;
using AseGateway.Waf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// Last stage of the proxy pipeline, just before YARP's forwarder: forwards eligible requests itself over pooled
/// keep-alive HTTP/1.1 connections (<see cref="UpstreamPools"/>) and hands everything else to YARP untouched. The
/// choice is made before a byte is sent. Failures leave the same traces YARP's forwarder leaves — status, an
/// <see cref="IForwarderErrorFeature"/> with the same error kind and an exception of the same shape, the proxied
/// destination and its in-flight count — so retries, passive health, metrics and the access log read them alike.
/// </summary>
internal sealed partial class FastPathForwarderMiddleware
{
    /// <summary>1xx interim responses skipped before the final one; more is a worker gone wrong.</summary>
    private const int MaxInterimResponses = 8;

    /// <summary>Attempts when reused connections fail before any response byte (the worker closed them while idle).</summary>
    private const int MaxAttempts = 3;

    /// <summary>The body length of a request whose body has none: it is sent chunked, as it arrives.</summary>
    private const long UnknownLength = -1;

    /// <summary>A request body kept by the WAF goes to the worker in sends of about this much (its connection's limit).</summary>
    private const int RequestBodyFlushBytes = 64 * 1024;

    private readonly RequestDelegate _next;
    private readonly UpstreamPools _pools;
    private readonly ArrAffinityResponseTransform _affinity;
    private readonly FastPathClientMetrics _metrics;
    private readonly ILogger _logger;

    public FastPathForwarderMiddleware(RequestDelegate next, UpstreamPools pools, ArrAffinityResponseTransform affinity, FastPathClientMetrics metrics, ILogger<FastPathForwarderMiddleware> logger)
    {
        _next = next;
        _pools = pools;
        _metrics = metrics;
        _affinity = affinity;
        _logger = logger;
    }

    private enum Outcome : byte
    {
        Reuse,
        Close,
        RetryOnNewConnection,
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Find<GatewayRequestFeature>() is not { } gateway)
        {
            return _next(context);
        }

        if (FastPathSettings.From(gateway.Snapshot) is not { Enabled: true } settings
            || gateway.ProxyFeature(context) is not { AvailableDestinations: [var destination] } proxy
            || destination.Model?.Config.Address is not { } address
            || _pools.Find(address) is not { } pool
            || !RequestHeadWriter.IsEligible(context, gateway))
        {
            return ForwardWithYarp(context, gateway);
        }

        var near = NearLoop(context, pool);
        if (!pool.TryRent(settings.MaxConnections, settings.IdleTimeoutMs, near, out var connection))
        {
            return ForwardWithYarp(context, gateway);
        }

        gateway.BeginAttempt(onFastPath: true);
        return ForwardAsync(context, gateway, proxy, destination, pool, connection, settings, near).AsTask();
    }

    private Task ForwardWithYarp(HttpContext context, GatewayRequestFeature gateway)
    {
        gateway.BeginAttempt(onFastPath: false);
        return gateway.AttemptFinisher is null ? _next(context) : ForwardWithYarpAndFinishAsync(context, gateway, gateway.AttemptFinisher);
    }

    /// <summary>YARP's forwarding, then the attempt's finish (<see cref="GatewayRequestFeature.AttemptFinisher"/>).</summary>
    private async Task ForwardWithYarpAndFinishAsync(HttpContext context, GatewayRequestFeature gateway, IAttemptFinisher finisher)
    {
        await _next(context);
        await finisher.FinishAttemptAsync(context, gateway);
    }

    /// <summary>
    /// The request on the connection rented for it (or a new one), and its response; every failure is reported here.
    /// A reused connection that the worker closed before answering a bodiless request is replaced and the request
    /// sent again, up to <see cref="MaxAttempts"/>.
    /// </summary>
    /// <remarks>
    /// One async method for the whole forwarding, the exchange included: an exchange of its own awaited here cost a
    /// second state machine (about 200 bytes) and a second continuation on every request, as each suspends once, on
    /// the worker's answer. The exchange's cleanup (the abort registration, the connection back to the pool or
    /// closed) is its <c>finally</c>; a retry leaves through it with <c>continue</c>. The attempt's finish (its report,
    /// and a retry on another instance: <see cref="GatewayRequestFeature.AttemptFinisher"/>) is awaited here too, once
    /// everything else is done, unless the forwarding itself threw.
    /// </remarks>
    /// <param name="near">The loop of the request's client (<see cref="NearLoop"/>): where new connections go.</param>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskBuilder))]
    private async ValueTask ForwardAsync(HttpContext context, GatewayRequestFeature gateway, IReverseProxyFeature proxy, DestinationState destination, UpstreamPool pool, UpstreamConnection? connection, FastPathSettings settings, EventLoop? near)
    {
        proxy.ProxiedDestination = destination;
        DestinationConcurrency.Increment(destination);
        var started = _metrics.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        var threw = false;
        try
        {
            // A body without a length (chunked, HTTP/2 without Content-Length) is UnknownLength: sent on chunked.
            var bodyLength = context.Features.Find<IHttpRequestBodyDetectionFeature>()!.CanHaveBody ? context.Request.ContentLength ?? UnknownLength : 0;
            var outcome = Outcome.Close;
            for (var attempt = 1; ; attempt++)
            {
                if (attempt > 1)
                {
                    // Only a stale connection brings the loop round again, unless its cleanup found it unusable.
                    if (outcome != Outcome.RetryOnNewConnection)
                    {
                        return;
                    }

                    LogStaleConnection(_logger, pool.Address);
                    if (!pool.TryRent(settings.MaxConnections, settings.IdleTimeoutMs, near, out connection))
                    {
                        Fail(context, ForwarderError.Request, StatusCodes.Status502BadGateway, new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely."));
                        return;
                    }
                }

                connection ??= await ConnectAsync(context, pool, near);
                if (connection is null)
                {
                    return;
                }

                var retriable = attempt < MaxAttempts && connection.Reused && bodyLength == 0;
                outcome = Outcome.Close;
                var receivedAny = false;
                var token = connection.Cancellation.Token;
                connection.BeginExchange();
                var registration = context.Aborted().UnsafeRegister(static state => ((UpstreamConnection)state!).Cancel(), connection);
                try
                {
                    if (bodyLength == UnknownLength)
                    {
                        if (context.Request.Body is InspectedRequestBody { HasRest: false } whole)
                        {
                            // Read whole by the WAF: one chunk from its array, not a pipe over a stream over it.
                            var unread = whole.Unread;
                            if (!SendChunk(context, gateway, connection.Writer, headSent: false, new ReadOnlySequence<byte>(unread), last: true)
                                || !await TryFlushRequestBodyAsync(context, connection.Writer, token))
                            {
                                return;
                            }

                            whole.Consume(unread.Length);
                        }
                        // Else through the body pipe: Kestrel's own reader, or one over the stream a stage put in its place.
                        else if (!await CopyRequestBodyAsync(context, gateway, context.Request.BodyReader, connection, UnknownLength, headSent: false, token))
                        {
                            return;
                        }
                    }
                    else if (bodyLength > 0)
                    {
                        // The head goes with the body's first part.
                        if (!await CopyRequestBodyAsync(context, gateway, connection, bodyLength, token))
                        {
                            return;
                        }
                    }
                    else
                    {
                        bool sent;
                        try
                        {
                            sent = RequestHeadWriter.TrySend(connection, context, gateway, hasBody: false, ReadOnlySequence<byte>.Empty);
                        }
                        catch (InvalidOperationException ex)
                        {
                            Fail(context, ForwarderError.RequestCreation, StatusCodes.Status502BadGateway, ex);
                            return;
                        }

                        if (!sent)
                        {
                            await connection.Writer.FlushAsync(token);
                        }
                    }

                    var head = connection.Head;
                    var reader = connection.Reader;
                    var requestIsHead = HttpMethods.IsHead(context.Request.Method);
                    var interim = 0;
                    var bytesAfterHead = false;
                    // The read's bytes after the head, when they hold the whole body.
                    ReadOnlySequence<byte> afterHead = default;
                    while (true)
                    {
                        var result = await connection.ReadAsync(token);
                        var buffer = result.Buffer;
                        receivedAny |= !buffer.IsEmpty;
                        var parsed = ResponseHeadParser.TryParse(buffer, requestIsHead, head, out var consumed);
                        if (parsed == HeadParseResult.Complete)
                        {
                            bytesAfterHead = buffer.Length > consumed;
                            if (!head.IsInterim && head.Framing == ResponseFraming.ContentLength && head.ContentLength > 0 && buffer.Length - consumed >= head.ContentLength)
                            {
                                // The whole body came with the head (a small answer's common case): it is copied from
                                // this read below, and the reader not advanced until then.
                                afterHead = buffer.Slice(consumed);
                                break;
                            }

                            reader.AdvanceTo(buffer.GetPosition(consumed));
                            if (head.IsInterim && ++interim <= MaxInterimResponses)
                            {
                                continue;
                            }

                            if (head.IsInterim)
                            {
                                FailInvalidResponse(context, connection, "too many 1xx interim responses");
                                return;
                            }

                            break;
                        }

                        reader.AdvanceTo(buffer.Start, buffer.End);
                        if (parsed == HeadParseResult.Invalid)
                        {
                            FailInvalidResponse(context, connection, head.Error!);
                            return;
                        }

                        if (result.IsCompleted)
                        {
                            if (!receivedAny && retriable)
                            {
                                outcome = Outcome.RetryOnNewConnection;
                                break;
                            }

                            if (receivedAny)
                            {
                                FailInvalidResponse(context, connection, "the connection closed inside the response head");
                            }
                            else
                            {
                                Fail(context, ForwarderError.Request, StatusCodes.Status502BadGateway, new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely."));
                            }

                            return;
                        }
                    }

                    if (outcome == Outcome.RetryOnNewConnection)
                    {
                        continue;
                    }

                    ApplyHead(context, gateway, head);
                    bool reusable;
                    if (!afterHead.IsEmpty)
                    {
                        reusable = await WriteWholeBodyAsync(context, connection, afterHead, head.ContentLength);
                    }
                    else
                    {
                        // "Content-Length: 0" has nothing to copy: reading for it would wait on an idle keep-alive connection.
                        var bodyless = head.Framing == ResponseFraming.NoBody || (head.Framing == ResponseFraming.ContentLength && head.ContentLength == 0);
                        reusable = bodyless ? !bytesAfterHead : await CopyResponseBodyAsync(context, connection, head);
                    }

                    outcome = reusable && head.KeepAlive ? Outcome.Reuse : Outcome.Close;
                    return;
                }
                catch (OperationCanceledException ex)
                {
                    FailCanceledBeforeResponse(context, ex);
                    return;
                }
                catch (Exception ex)
                {
                    // Refused, reset or closed while sending or before the head was complete: YARP's "Request" error.
                    if (!receivedAny && retriable)
                    {
                        outcome = Outcome.RetryOnNewConnection;
                        continue;
                    }

                    Fail(context, ForwarderError.Request, StatusCodes.Status502BadGateway, ex as HttpRequestException ?? new HttpRequestException(HttpRequestError.Unknown, ex.Message, ex));
                    return;
                }
                finally
                {
                    // The registration goes first, so a late client abort cannot cancel the next exchange unseen.
                    registration.Dispose();
                    if (!connection.EndExchange())
                    {
                        outcome = Outcome.Close;
                    }

                    if (outcome == Outcome.Reuse)
                    {
                        pool.Return(connection, settings.MaxIdle);
                    }
                    else
                    {
                        pool.Close(connection);
                    }

                    connection = null;
                }
            }
        }
        catch
        {
            threw = true;
            throw;
        }
        finally
        {
            DestinationConcurrency.Decrement(destination);
            if (started != 0)
            {
                var error = gateway.ForwarderError(context);
                _metrics.Record(started, context.Request.Method, context.Response.StatusCode, error?.Error is ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.RequestCanceled or ForwarderError.RequestCreation ? ErrorType(error.Exception) : null);
            }

            if (!threw && gateway.AttemptFinisher is { } finisher)
            {
                await finisher.FinishAttemptAsync(context, gateway);
            }
        }
    }

    /// <summary>error.type as HttpClient's metrics name it (its HttpRequestError in snake case).</summary>
    private static string ErrorType(Exception? exception) => exception switch
    {
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => "connection_error",
        HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } => "response_ended",
        HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse } => "invalid_response",
        OperationCanceledException => "System.Threading.Tasks.TaskCanceledException",
        _ => exception?.GetType().FullName ?? "_OTHER",
    };

    /// <summary>
    /// The event loop of the request's client: the loop running this (a request on a loop runs there), else the
    /// connection's own (the first request of a connection may start on the thread pool); null off the loops.
    /// </summary>
    private static EventLoop? NearLoop(HttpContext context, UpstreamPool pool) =>
        pool.Loops is null ? null : EventLoop.Current ?? context.Features.Find<IEventLoopFeature>()?.Loop;

    private async ValueTask<UpstreamConnection?> ConnectAsync(HttpContext context, UpstreamPool pool, EventLoop? near)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.Aborted());
        timeout.CancelAfter(FastPathSettings.ActivityTimeout);
        try
        {
            return await UpstreamConnection.ConnectAsync(pool, near, timeout.Token);
        }
        catch (OperationCanceledException ex)
        {
            pool.ReleaseSlot();
            FailCanceledBeforeResponse(context, ex);
            return null;
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            // As HttpClient reports it: passive health and the access log's win32 status read this shape.
            pool.ReleaseSlot();
            Fail(context, ForwarderError.Request, StatusCodes.Status502BadGateway, new HttpRequestException(HttpRequestError.ConnectionError, ex.Message, ex));
            return null;
        }
    }

    /// <summary>
    /// The head and the request body to the worker, the body from where it is: the WAF's array, the WAF's buffer, or
    /// the client. The head goes with the body's first part.
    /// </summary>
    private async ValueTask<bool> CopyRequestBodyAsync(HttpContext context, GatewayRequestFeature gateway, UpstreamConnection connection, long length, CancellationToken token)
    {
        switch (context.Request.Body)
        {
            case InspectedRequestBody inspected:
                return await CopyInspectedRequestBodyAsync(context, gateway, inspected, connection, length, token);
            case FileBufferingReadStream buffered:
                return TryWriteHead(context, gateway, connection.Writer) && await CopyBufferedRequestBodyAsync(context, buffered, connection, length, token);
        }

        return await CopyRequestBodyAsync(context, gateway, context.Request.BodyReader, connection, length, headSent: false, token);
    }

    /// <summary>
    /// Copies the body to the worker as it arrives: each read takes everything the client's connection has buffered (a
    /// 16 KiB upload that came in one burst is one read and one send, with the head), not a fixed-size slice of it,
    /// which cost a send per slice. Each read is sent from the client connection's buffers where the worker's socket
    /// takes it (<see cref="SendBodyPart"/>), and only what it did not take is copied and flushed.
    /// A body of <see cref="UnknownLength"/> is sent chunked (<see cref="SendChunk"/>), until the client's body ends.
    /// </summary>
    private async ValueTask<bool> CopyRequestBodyAsync(HttpContext context, GatewayRequestFeature gateway, PipeReader body, UpstreamConnection connection, long length, bool headSent, CancellationToken token)
    {
        var remaining = length;
        var chunked = length == UnknownLength;
        while (chunked || remaining > 0)
        {
            ReadResult result;
            try
            {
                result = await body.ReadAsync(token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                FailClientBody(context, ex);
                return false;
            }

            var buffer = result.Buffer;
            if (chunked)
            {
                var sentChunk = SendChunk(context, gateway, connection.Writer, headSent, buffer, last: result.IsCompleted);
                headSent = true;
                body.AdvanceTo(buffer.End);
                if (!sentChunk || !await TryFlushRequestBodyAsync(context, connection.Writer, token))
                {
                    return false;
                }

                if (result.IsCompleted)
                {
                    return true;
                }

                if (result.IsCanceled)
                {
                    throw new OperationCanceledException("Reading the request body was canceled.");
                }

                continue;
            }

            if (buffer.Length > remaining)
            {
                buffer = buffer.Slice(0, remaining);
            }

            var sent = SendBodyPart(context, gateway, connection, headSent, buffer);
            headSent = true;
            remaining -= buffer.Length;
            body.AdvanceTo(buffer.End);
            if (sent == BodyPartSent.Failed)
            {
                return false;
            }

            if (remaining > 0 && result.IsCanceled)
            {
                throw new OperationCanceledException("Reading the request body was canceled.");
            }

            if (remaining > 0 && result.IsCompleted)
            {
                FailBodyEndedEarly(context);
                return false;
            }

            if (sent == BodyPartSent.Buffered && !await TryFlushRequestBodyAsync(context, connection.Writer, token))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// One read of a body of unknown length as a chunk (the head before it, when it has not gone yet; the last chunk
    /// after it, when the body ended), into the connection's writer: the client's chunk sizes, extensions and trailers
    /// are not passed on, as HttpClient does not pass them for YARP either. False when the head could not be written.
    /// </summary>
    private bool SendChunk(HttpContext context, GatewayRequestFeature gateway, PipeWriter writer, bool headSent, in ReadOnlySequence<byte> part, bool last)
    {
        if (!headSent && !TryWriteHead(context, gateway, writer))
        {
            return false;
        }

        if (!part.IsEmpty)
        {
            ChunkedEncoder.WriteChunk(writer, part);
        }

        if (last)
        {
            ChunkedEncoder.WriteLastChunk(writer);
        }

        return true;
    }

    /// <summary>The head of a request with a body, into the writer; a head the gateway cannot write is a failure to create the request.</summary>
    private bool TryWriteHead(HttpContext context, GatewayRequestFeature gateway, PipeWriter writer)
    {
        try
        {
            RequestHeadWriter.Write(writer, context, gateway, hasBody: true);
            return true;
        }
        catch (InvalidOperationException ex)
        {
            Fail(context, ForwarderError.RequestCreation, StatusCodes.Status502BadGateway, ex);
            return false;
        }
    }

    private enum BodyPartSent
    {
        /// <summary>Sent: nothing to flush.</summary>
        All,

        /// <summary>All or part of it copied to the connection's writer: the caller flushes.</summary>
        Buffered,

        /// <summary>The head could not be written or the send failed; reported.</summary>
        Failed,
    }

    /// <summary>
    /// One part of the body (and the head before it, when it has not gone yet) to the worker: sent at once from where
    /// it is when the worker's connection is on an event loop with nothing unsent, else copied to its writer. A head
    /// the gateway cannot write is a failure to create the request; a failed send, to send its body.
    /// </summary>
    private BodyPartSent SendBodyPart(HttpContext context, GatewayRequestFeature gateway, UpstreamConnection connection, bool headSent, in ReadOnlySequence<byte> part)
    {
        try
        {
            var sent = headSent ? connection.SendOrBuffer(default, part) : RequestHeadWriter.TrySend(connection, context, gateway, hasBody: true, part);
            return sent ? BodyPartSent.All : BodyPartSent.Buffered;
        }
        catch (InvalidOperationException ex) when (!headSent)
        {
            Fail(context, ForwarderError.RequestCreation, StatusCodes.Status502BadGateway, ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Fail(context, ForwarderError.RequestBodyDestination, StatusCodes.Status502BadGateway, ex);
        }

        return BodyPartSent.Failed;
    }

    /// <summary>
    /// The body the WAF read to inspect it, and kept (in memory up to 64 KiB, past that in a file): read again from the
    /// start straight into the worker connection's buffers, flushed every <see cref="RequestBodyFlushBytes"/> and at
    /// the end rather than after every read, since a kept body needs no waiting (a pipe over the stream, as
    /// <c>BodyReader</c> would make, is one more copy and more objects per request). What the WAF left unread past its
    /// inspection limit comes from the client through the same stream.
    /// </summary>
    private async ValueTask<bool> CopyBufferedRequestBodyAsync(HttpContext context, Stream body, UpstreamConnection connection, long length, CancellationToken token)
    {
        var writer = connection.Writer;
        var remaining = length;
        while (remaining > 0)
        {
            var memory = writer.GetMemory();
            if (memory.Length > remaining)
            {
                memory = memory[..(int)remaining];
            }

            int read;
            try
            {
                read = await body.ReadAsync(memory, token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                FailClientBody(context, ex);
                return false;
            }

            if (read == 0)
            {
                FailBodyEndedEarly(context);
                return false;
            }

            writer.Advance(read);
            remaining -= read;
            if ((remaining == 0 || !writer.CanGetUnflushedBytes || writer.UnflushedBytes >= RequestBodyFlushBytes) && !await TryFlushRequestBodyAsync(context, writer, token))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A body whose first part (or all) the WAF read into one array: sent from there in parts of up to <see
    /// cref="RequestBodyFlushBytes"/> (the head with the first; a part the socket did not take is copied to the worker
    /// connection's writer and flushed); the rest then comes from the client's body pipe as it arrives.
    /// </summary>
    private async ValueTask<bool> CopyInspectedRequestBodyAsync(HttpContext context, GatewayRequestFeature gateway, InspectedRequestBody body, UpstreamConnection connection, long length, CancellationToken token)
    {
        var remaining = length;
        var headSent = false;
        while (remaining > 0)
        {
            var unread = body.Unread;
            if (unread.IsEmpty)
            {
                if (body.RestReader is { } rest)
                {
                    return await CopyRequestBodyAsync(context, gateway, rest, connection, remaining, headSent, token);
                }

                FailBodyEndedEarly(context);
                return false;
            }

            var chunk = (int)Math.Min(Math.Min(remaining, unread.Length), RequestBodyFlushBytes);
            var sent = SendBodyPart(context, gateway, connection, headSent, new ReadOnlySequence<byte>(unread[..chunk]));
            headSent = true;
            body.Consume(chunk);
            remaining -= chunk;
            if (sent == BodyPartSent.Failed || (sent == BodyPartSent.Buffered && !await TryFlushRequestBodyAsync(context, connection.Writer, token)))
            {
                return false;
            }
        }

        return true;
    }

    private void FailBodyEndedEarly(HttpContext context) =>
        Fail(context, ForwarderError.RequestBodyClient, StatusCodes.Status400BadRequest, new IOException("The request body ended before its Content-Length."));

    /// <summary>Sends the body so far to the worker; false, with the failure reported, when the worker's connection failed.</summary>
    private async ValueTask<bool> TryFlushRequestBodyAsync(HttpContext context, PipeWriter writer, CancellationToken token)
    {
        try
        {
            await writer.FlushAsync(token);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Fail(context, ForwarderError.RequestBodyDestination, StatusCodes.Status502BadGateway, ex);
            return false;
        }
    }

    /// <summary>Status, reason phrase and headers as YARP's transformer copies them, then the affinity cookie.</summary>
    private void ApplyHead(HttpContext context, GatewayRequestFeature gateway, ResponseHead head)
    {
        // The response feature itself, as HttpResponse's StatusCode and Headers reach it, through the indexer: the
        // HttpResponse asks for it with the generic Get<T> (see FeatureLookup) each time the features change.
        var response = context.Features.Find<IHttpResponseFeature>()!;
        response.StatusCode = head.StatusCode;
        if (head.ReasonPhrase is not null && !HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
        {
            response.ReasonPhrase = head.ReasonPhrase;
        }

        var headers = response.Headers;
        var fields = head.Fields;
        var plain = headers.Count == 0 ? head.PlainFields : 0UL;
        for (var i = 0; i < fields.Count; i++)
        {
            var (name, value) = fields[i];
            // "i < 64" first: a shift count is taken mod 64, so field 64 would read field 0's bit.
            if (i < 64 && (plain & (1UL << i)) != 0)
            {
                headers[name] = value;
            }
            else if (!RequestHeadWriter.HopByHop.Contains(name))
            {
                headers[name] = headers.TryGetValue(name, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
            }
        }

        // As YARP: a status that has no body drops a "Content-Length: 0" (RFC 9110 §8.6).
        if (head.ContentLength == 0 && head.StatusCode is 204 or 205)
        {
            headers.ContentLength = null;
        }

        _affinity.Apply(context, gateway);
    }

    /// <summary>
    /// Copies a body of <paramref name="length"/> bytes that arrived whole with its head, from the bytes after the head
    /// in the read that brought both, then releases that read: no second read of the connection, no copying loop. True
    /// when nothing followed the body and the connection can be reused. Flushes only a response already started, as
    /// <see cref="CopyResponseBodyAsync"/> does at its end.
    /// </summary>
    private ValueTask<bool> WriteWholeBodyAsync(HttpContext context, UpstreamConnection connection, in ReadOnlySequence<byte> afterHead, long length)
    {
        var body = afterHead.Slice(0, length);
        var leftover = afterHead.Length > length;
        var output = context.Response.BodyWriter;
        output.Write(body);
        connection.Reader.AdvanceTo(body.End);
        if (!context.Response.HasStarted)
        {
            return new ValueTask<bool>(!leftover);
        }

        return leftover ? FlushThenCloseAsync(context, output) : TryFlushAsync(context, output, wrote: true);
    }

    private async ValueTask<bool> FlushThenCloseAsync(HttpContext context, PipeWriter output)
    {
        await TryFlushAsync(context, output, wrote: true);
        return false;
    }

    /// <summary>Streams the body to the client; true when the connection ended exactly at the body's end and can be reused.</summary>
    private async ValueTask<bool> CopyResponseBodyAsync(HttpContext context, UpstreamConnection connection, ResponseHead head)
    {
        var output = context.Response.BodyWriter;
        var reader = connection.Reader;
        var token = connection.Cancellation.Token;
        var chunked = connection.Chunked;
        chunked.Reset();
        var remaining = head.ContentLength;
        var wrote = false;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(token);
            }
            catch (OperationCanceledException ex)
            {
                return FailBody(context, ForwarderError.ResponseBodyCanceled, ex, wrote);
            }
            catch (Exception ex)
            {
                return FailBody(context, ForwarderError.ResponseBodyDestination, ex, wrote);
            }

            var buffer = result.Buffer;
            bool done;
            var leftover = false;
            switch (head.Framing)
            {
                case ResponseFraming.ContentLength:
                    var take = Math.Min(remaining, buffer.Length);
                    var slice = buffer.Slice(0, take);
                    output.Write(slice);

                    remaining -= take;
                    wrote |= take > 0;
                    done = remaining == 0;
                    leftover = buffer.Length > take;
                    reader.AdvanceTo(slice.End);
                    break;

                case ResponseFraming.Chunked:
                    var state = chunked.Decode(buffer, output, out var consumed);
                    wrote = chunked.BytesWritten > 0;
                    if (state == ChunkedResult.Invalid)
                    {
                        reader.AdvanceTo(consumed);
                        return FailBody(context, ForwarderError.ResponseBodyDestination, new HttpIOException(HttpRequestError.InvalidResponse, $"Invalid chunked response body: {chunked.Error}."), wrote);
                    }

                    done = state == ChunkedResult.Done;
                    leftover = done && !buffer.Slice(consumed).IsEmpty;
                    reader.AdvanceTo(consumed, buffer.End);
                    break;

                default:
                    output.Write(buffer);

                    wrote |= !buffer.IsEmpty;
                    done = result.IsCompleted;
                    reader.AdvanceTo(buffer.End);
                    break;
            }

            if (done)
            {
                if (head.Framing == ResponseFraming.Chunked)
                {
                    CopyTrailers(context, chunked);
                }

                // A body that came in one read goes out with the head when the request completes: no flush. Once a
                // flush has sent the head, Kestrel no longer flushes at the end (HTTP/1.1): the tail would wait in
                // its buffer for the connection's next response, and the client for it.
                if (context.Response.HasStarted && !await TryFlushAsync(context, output, wrote))
                {
                    return false;
                }

                return !leftover && head.Framing != ResponseFraming.UntilClose;
            }

            if (result.IsCompleted)
            {
                return FailBody(context, ForwarderError.ResponseBodyDestination, new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely."), wrote);
            }

            connection.ExtendDeadline();
            if (!await TryFlushAsync(context, output, wrote))
            {
                return false;
            }
        }
    }

    /// <summary>Flushes the body so far to the client; false, with the failure reported, when the client is gone.</summary>
    private async ValueTask<bool> TryFlushAsync(HttpContext context, PipeWriter output, bool wrote)
    {
        FlushResult flushed;
        try
        {
            flushed = await output.FlushAsync();
        }
        catch (Exception ex)
        {
            return FailBody(context, ForwarderError.ResponseBodyClient, ex, wrote);
        }

        return !(flushed.IsCanceled || flushed.IsCompleted)
            || FailBody(context, ForwarderError.ResponseBodyClient, new OperationCanceledException("The client stopped reading the response."), wrote);
    }

    /// <summary>As YARP: trailers reach the client when its protocol carries them (HTTP/2), hop-by-hop ones excepted.</summary>
    private static void CopyTrailers(HttpContext context, ChunkedDecoder chunked)
    {
        if (chunked.Trailers.Count == 0 || context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is not { IsReadOnly: false } trailers)
        {
            return;
        }

        foreach (var (name, value) in chunked.Trailers)
        {
            if (!RequestHeadWriter.HopByHop.Contains(name))
            {
                trailers[name] = trailers.TryGetValue(name, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
            }
        }
    }

    /// <summary>
    /// A failure after the head: a clean 502 if no body byte was written yet, else the client's connection or stream
    /// is cut. Written bytes may still sit unflushed in Kestrel's buffer, where a 502 would carry them out.
    /// </summary>
    private bool FailBody(HttpContext context, ForwarderError error, Exception exception, bool wroteBody)
    {
        SetError(context, error, exception);
        LogFailed(_logger, error, exception.Message);
        if (!wroteBody && !context.Response.HasStarted)
        {
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
        }
        else if (context.Features.Get<IHttpResetFeature>() is { } reset)
        {
            // HTTP/2: INTERNAL_ERROR (RFC 9113 §7), so the client does not take a truncated body for a whole one.
            reset.Reset(2);
        }
        else
        {
            context.Abort();
        }

        return false;
    }

    private void FailCanceledBeforeResponse(HttpContext context, OperationCanceledException exception)
    {
        if (context.Aborted().IsCancellationRequested)
        {
            Fail(context, ForwarderError.RequestCanceled, StatusCodes.Status400BadRequest, exception);
        }
        else
        {
            Fail(context, ForwarderError.RequestTimedOut, StatusCodes.Status504GatewayTimeout, exception);
        }
    }

    private void FailInvalidResponse(HttpContext context, UpstreamConnection connection, string error)
    {
        LogInvalidResponse(_logger, connection.Pool.Address, error);
        Fail(context, ForwarderError.Request, StatusCodes.Status502BadGateway, new HttpRequestException(HttpRequestError.InvalidResponse, $"The worker sent an invalid response: {error}."));
    }

    /// <summary>
    /// Reading the client's body failed: 400, or the server's own status for it (413 over the size limit, 408 too
    /// slow), as YARP's forwarder answers.
    /// </summary>
    private void FailClientBody(HttpContext context, Exception exception) =>
        Fail(context, ForwarderError.RequestBodyClient, exception is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status400BadRequest, exception);

    private void Fail(HttpContext context, ForwarderError error, int status, Exception exception)
    {
        SetError(context, error, exception);
        context.Response.StatusCode = status;
        LogFailed(_logger, error, exception.Message);
    }

    /// <summary>As YARP's forwarder does, and on the request's gateway feature, which later stages ask first.</summary>
    private static void SetError(HttpContext context, ForwarderError error, Exception exception)
    {
        var feature = new FastPathError(error, exception);
        context.Features.Set<IForwarderErrorFeature>(feature);
        context.Features.Find<GatewayRequestFeature>()?.FastPathFailed(feature);
    }

    [LoggerMessage(EventId = Logging.EventIds.FastPathForwardingFailed, Level = LogLevel.Debug, Message = "Fast path: {Error}: {Message}")]
    private static partial void LogFailed(ILogger logger, ForwarderError error, string message);

    [LoggerMessage(EventId = Logging.EventIds.FastPathInvalidResponse, Level = LogLevel.Warning, Message = "Worker {Address} sent an invalid HTTP/1.1 response ({Error}): answering 502 and closing the connection.")]
    private static partial void LogInvalidResponse(ILogger logger, Uri address, string error);

    [LoggerMessage(EventId = Logging.EventIds.FastPathStaleConnection, Level = LogLevel.Debug, Message = "Fast path: a kept-alive connection to {Address} closed before answering; sending again on another connection.")]
    private static partial void LogStaleConnection(ILogger logger, Uri address);

    /// <summary>YARP's error feature is internal; this carries the same two facts.</summary>
    private sealed class FastPathError(ForwarderError error, Exception exception) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception { get; } = exception;
    }
}
