using System.Buffers;
using System.IO.Pipelines;
using AseGateway.Forwarding;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Waf;

/// <summary>
/// Holds a worker's response back until the WAF's response phases have decided, the way ModSecurity and Coraza run
/// behind a proxy. It replaces the response body feature for one request, so YARP's copy of the worker's body (and
/// anything else written) goes through it:
/// <list type="bullet">
/// <item>At the first write, flush, start or the end of the response, phase 3 runs on the status and headers.</item>
/// <item>If a rule set inspects bodies of that Content-Type, the body is buffered up to its limit and phase 4 runs at
/// the end of the response; over the limit, Reject refuses the response (in Prevention) and ProcessPartial runs phase 4
/// on the first limit bytes and then streams the rest. Otherwise phase 4 runs at once with an empty RESPONSE_BODY and
/// the body streams through untouched.</item>
/// <item>A block replaces the response with the policy's block status before anything was sent. Only if something
/// had already started the response (a writer that bypassed this feature) is the connection aborted instead, as
/// ModSecurity does when headers have been flushed.</item>
/// </list>
/// Once decided, the original feature is put back, so later writers go straight to Kestrel.
/// </summary>
internal sealed class WafResponseGate : ResponseBodyFeatureStream
{
    private readonly HttpContext _context;
    private readonly IHttpResponseBodyFeature _inner;
    private readonly Func<WafResponse, bool, bool> _inspect;
    private readonly Func<HttpContext, string?, Task> _block;
    private readonly IReadOnlyList<WafResponseCheck> _checks;
    private readonly bool _prevention;
    private PipeWriter? _writer;
    private State _state;
    private WafResponse? _response;
    private ArrayBufferWriter<byte>? _body;
    private int _limit;
    private bool _rejectOverLimit;

    /// <param name="inspect">Runs phase 3 (false) or 4 (true) and records the findings; returns true when the response is blocked.</param>
    /// <param name="block">Writes the block answer on a response that has not started, with the reason when no finding gives it.</param>
    private WafResponseGate(HttpContext context, bool prevention, IReadOnlyList<WafResponseCheck> checks, Func<WafResponse, bool, bool> inspect, Func<HttpContext, string?, Task> block)
    {
        _prevention = prevention;
        _context = context;
        _inner = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        _checks = checks;
        _inspect = inspect;
        _block = block;
    }

    private enum State
    {
        /// <summary>Nothing seen yet: phase 3 has not run.</summary>
        Pending,

        /// <summary>Phase 3 passed; the body is being buffered for phase 4.</summary>
        Buffering,

        /// <summary>Both phases passed: everything goes to the client.</summary>
        Passing,

        /// <summary>The block answer was written (or the connection aborted): the worker's bytes are dropped.</summary>
        Blocked,
    }

    public override PipeWriter Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    public static WafResponseGate Attach(HttpContext context, bool prevention, IReadOnlyList<WafResponseCheck> checks, Func<WafResponse, bool, bool> inspect, Func<HttpContext, string?, Task> block)
    {
        var gate = new WafResponseGate(context, prevention, checks, inspect, block);
        context.Features.Set<IHttpResponseBodyFeature>(gate);
        return gate;
    }

    /// <summary>The end of the response: runs what has not run yet and sends what was held back.</summary>
    public async Task FinishAsync()
    {
        if (_writer is not null)
        {
            // Bytes a writer has not flushed yet reach the stream (and the inspection) first.
            await _writer.FlushAsync();
        }

        if (_state == State.Pending)
        {
            await DecideHeadersAsync(CancellationToken.None);
        }

        if (_state == State.Buffering)
        {
            await DecideBodyAsync(overLimit: false, CancellationToken.None);
        }

        Restore();
    }

    /// <summary>Puts the server's feature back (after a decision, or when the pipeline failed).</summary>
    public void Restore()
    {
        if (ReferenceEquals(_context.Features.Get<IHttpResponseBodyFeature>(), this))
        {
            _context.Features.Set(_inner);
        }
    }

    // YARP turns response buffering off for every proxied request; while the gate buffers for phase 4 that is moot,
    // and once it passes the body through the server's setting applies.
    public override void DisableBuffering() => _inner.DisableBuffering();

    public override async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_state == State.Pending)
        {
            await DecideHeadersAsync(cancellationToken);
        }

        if (_state == State.Passing)
        {
            await _inner.StartAsync(cancellationToken);
        }
    }

    // Through this stream, so a file's bytes are held and inspected like any other body.
    public override Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(this, path, offset, count, cancellationToken);

    public override Task CompleteAsync() => FinishAsync();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _state == State.Passing ? _inner.Stream.WriteAsync(buffer, cancellationToken) : WriteSlowAsync(buffer, cancellationToken);

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        // A flush before the verdict must not send the headers: it decides phase 3 and, while buffering, waits.
        if (_state == State.Pending)
        {
            await DecideHeadersAsync(cancellationToken);
        }

        if (_state == State.Passing)
        {
            await _inner.Stream.FlushAsync(cancellationToken);
        }
    }

    private async ValueTask WriteSlowAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_state == State.Pending)
        {
            await DecideHeadersAsync(cancellationToken);
        }

        switch (_state)
        {
            case State.Passing:
                await _inner.Stream.WriteAsync(buffer, cancellationToken);
                return;
            case State.Blocked:
                return;
        }

        var body = _body!;
        var room = _limit - body.WrittenCount;
        if (buffer.Length <= room)
        {
            body.Write(buffer.Span);
            return;
        }

        // Over the limit: phase 4 decides on the first limit bytes, before anything is sent.
        body.Write(buffer.Span[..room]);
        if (await DecideBodyAsync(overLimit: true, cancellationToken))
        {
            await _inner.Stream.WriteAsync(buffer[room..], cancellationToken);
        }
    }

    private async Task DecideHeadersAsync(CancellationToken cancellationToken)
    {
        _response = new WafResponse(_context);
        if (_inspect(_response, false))
        {
            await BlockAsync(null);
            return;
        }

        foreach (var check in _checks)
        {
            if (check.Inspection.InspectsBodyOf(_response.ContentType))
            {
                _limit = check.Inspection.BodyLimit;
                _rejectOverLimit = check.Inspection.RejectOverLimit;
                // Sized by Content-Length when the worker sent one (at most the limit; at least 1, as ArrayBufferWriter needs).
                _body = new ArrayBufferWriter<byte>((int)Math.Max(1, Math.Min(_response.ContentLength ?? 4096, _limit)));
                _state = State.Buffering;
                return;
            }
        }

        // Nothing more to see: phase 4 runs now with an empty RESPONSE_BODY, so its verdict too comes before any byte.
        if (_inspect(_response, true))
        {
            await BlockAsync(null);
            return;
        }

        Pass();
    }

    /// <returns>True when the response passes (what was buffered has been sent).</returns>
    private async Task<bool> DecideBodyAsync(bool overLimit, CancellationToken cancellationToken)
    {
        var response = _response!;
        response.Body = _body!.WrittenMemory;
        response.BodyOverLimit = overLimit;
        // Reject refuses a body over the limit only where rules block (Prevention), as libmodsecurity3 does only with
        // SecRuleEngine On; in Detection the start of the body is still inspected.
        if (overLimit && _rejectOverLimit && _prevention)
        {
            await BlockAsync($"the response body is larger than the inspection limit of {_limit} bytes (SecResponseBodyLimitAction Reject)");
            return false;
        }

        if (_inspect(response, true))
        {
            await BlockAsync(null);
            return false;
        }

        Pass();
        await _inner.Stream.WriteAsync(_body.WrittenMemory, cancellationToken);
        _body = null;
        return true;
    }

    private void Pass()
    {
        _state = State.Passing;
        Restore();
    }

    /// <param name="reason">Why, when no rule finding says it already.</param>
    private async Task BlockAsync(string? reason)
    {
        _state = State.Blocked;
        _body = null;
        Restore();
        if (_context.Response.HasStarted)
        {
            _context.Abort();
            return;
        }

        _context.Response.Clear();
        await _block(_context, reason);
    }
}
