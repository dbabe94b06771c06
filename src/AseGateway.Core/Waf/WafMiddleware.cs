using System.Buffers;
using AseGateway.Forwarding;
using AseGateway.Hosting;
using AseGateway.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace AseGateway.Waf;

/// <summary>
/// Gates each request with its app's WAF policy before it is proxied. The body is read up to the inspect limit
/// into a pooled array the proxy sends on before the rest (without a Content-Length, into a rewindable buffer), so
/// the worker still receives it byte for byte; bodies or uploads over the policy's limits get 413 when enforcement
/// is on. Findings go to the audit log; a block answers with the policy's status and a body naming the transaction id.
/// </summary>
internal sealed partial class WafMiddleware
{
    private readonly RequestDelegate _next;
    private readonly WafEngine _engine;
    private readonly WafAuditLog? _audit;
    private readonly WafCounters _counters;
    private readonly ILogger _logger;

    public WafMiddleware(RequestDelegate next, WafEngine engine, WafCounters counters, ILogger<WafMiddleware> logger, WafAuditLog? audit = null)
    {
        _next = next;
        _engine = engine;
        _audit = audit;
        _counters = counters;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var gateway = context.Features.Find<GatewayRequestFeature>();

        // Apps without a WAF policy pass straight on: no state machine for a stage that does nothing.
        return gateway?.App?.Waf is { Enabled: true } policy ? Inspect(context, gateway, gateway.App, policy) : _next(context);
    }

    /// <summary>
    /// A request without a body to read, on a policy whose rules and hooks finish synchronously (no remote hook), is
    /// decided without awaiting, and the next stage's task is returned as it is: no state machine and no extra await
    /// stage around the whole proxy call for the usual GET.
    /// </summary>
    private Task Inspect(HttpContext context, GatewayRequestFeature gateway, AppModel app, WafPolicyModel policy)
    {
        var request = new WafRequest(context, gateway.ClientAddress, gateway.ClientPort);
        if (policy.RequestBodyCheck && BodyParser.HasBody(context.Request))
        {
            return InspectWithBodyAsync(context, gateway, app, policy, request);
        }

        var evaluation = _engine.EvaluateAsync(policy, app.Name, request, context.Aborted());
        return evaluation.IsCompletedSuccessfully
            ? Apply(context, gateway, app, policy, request, evaluation.Result)
            : ApplyAsync(context, gateway, app, policy, request, evaluation);
    }

    /// <summary>The length of a body without a Content-Length (chunked), for <see cref="ReadInspectedPartAsync"/>.</summary>
    private const long UnknownLength = -1;

    private async Task InspectWithBodyAsync(HttpContext context, GatewayRequestFeature gateway, AppModel app, WafPolicyModel policy, WafRequest request)
    {
        var http = context.Request;
        if (policy.RequestBodyEnforcement && http.ContentLength > policy.MaxRequestBodyBytes)
        {
            await RefuseAsync(context, gateway, TooLarge(policy));
            return;
        }

        // A body of known length has its first part, up to the inspection limit (all of it, when it fits), read into
        // one pooled array that the proxy sends on before the rest. So has a body of unknown length (chunked) that ends
        // within the limit, as an API's JSON does. A longer one is buffered for the proxy from its first byte (read
        // whole when the policy enforces a size limit), and the part the rules see goes into a second pooled array
        // (128 KB by default: a new one per request would be a large-object allocation). The arrays are the pool's
        // again once this stage ends, which is after the proxy is done.
        InspectedRequestBody? known = null;
        byte[]? inspected = null;
        try
        {
            string? refusal;
            if (http.ContentLength is long length and > 0)
            {
                known = await ReadInspectedPartAsync(context, length, policy.InspectLimitBytes);
                refusal = await InspectBodyAsync(http, policy, request, known.Content, truncated: length > policy.InspectLimitBytes);
            }
            else
            {
                known = await ReadInspectedPartAsync(context, UnknownLength, policy.InspectLimitBytes);
                if (!known.HasRest)
                {
                    refusal = policy.RequestBodyEnforcement && known.Content.Length > policy.MaxRequestBodyBytes
                        ? TooLarge(policy)
                        : await InspectBodyAsync(http, policy, request, known.Content, truncated: false);
                }
                else
                {
                    inspected = InspectionBuffers.Rent(policy.InspectLimitBytes);
                    refusal = await ReadBodyAsync(context, policy, request, inspected);
                }
            }

            if (refusal is not null)
            {
                await RefuseAsync(context, gateway, refusal);
                return;
            }

            await ApplyAsync(context, gateway, app, policy, request, _engine.EvaluateAsync(policy, app.Name, request, context.Aborted()));
        }
        finally
        {
            known?.Dispose();
            if (inspected is not null)
            {
                InspectionBuffers.Return(inspected);
            }
        }
    }

    private static Task RefuseAsync(HttpContext context, GatewayRequestFeature gateway, string refusal)
    {
        gateway.AnsweredBy = Observability.AccessLogSubStatus.WafBodyTooLarge;
        return PlainTextResponse.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"413 Payload Too Large: {refusal}\n");
    }

    private static string TooLarge(WafPolicyModel policy) => $"the body is larger than {policy.MaxRequestBodyBytes / 1024} KB";

    private async Task ApplyAsync(HttpContext context, GatewayRequestFeature gateway, AppModel app, WafPolicyModel policy, WafRequest request, ValueTask<WafVerdict> evaluation) =>
        await Apply(context, gateway, app, policy, request, await evaluation);

    /// <summary>Counts and audits the findings, then answers the block or passes the request on.</summary>
    private Task Apply(HttpContext context, GatewayRequestFeature gateway, AppModel app, WafPolicyModel policy, WafRequest request, WafVerdict verdict)
    {
        Record(verdict);

        if (verdict.Blocked)
        {
            var reason = verdict.Findings[^1];
            LogBlocked(_logger, request.TransactionId, app.Name, reason.RuleId, reason.Message);
            return WriteBlockAnswerAsync(context, gateway, policy, request);
        }

        if (verdict.ResponseChecks is { Count: > 0 } checks)
        {
            return ProxyThroughResponseGateAsync(context, gateway, app, policy, request, checks);
        }

        return _next(context);
    }

    /// <summary>
    /// Proxies with the response held back for the rule sets' response phases (<see cref="WafResponseGate"/>); only
    /// requests whose verdict kept response checks pay for it.
    /// </summary>
    private async Task ProxyThroughResponseGateAsync(HttpContext context, GatewayRequestFeature gateway, AppModel app, WafPolicyModel policy, WafRequest request, IReadOnlyList<WafResponseCheck> checks)
    {
        var gate = WafResponseGate.Attach(
            context,
            policy.Mode == Configuration.WafMode.Prevention,
            checks,
            (response, body) => InspectResponse(policy, app.Name, request, checks, response, body),
            (blocked, reason) =>
            {
                if (reason is not null)
                {
                    LogResponseBlocked(_logger, request.TransactionId, app.Name, "-", reason);
                }

                return WriteBlockAnswerAsync(blocked, gateway, policy, request);
            });
        try
        {
            await _next(context);
            await gate.FinishAsync();
        }
        finally
        {
            gate.Restore();
        }
    }

    /// <summary>Counts and audits a verdict's findings, for request and response phases alike.</summary>
    private void Record(WafVerdict verdict)
    {
        var findings = verdict.Findings;
        for (var i = 0; i < findings.Count; i++)
        {
            var finding = findings[i];
            _counters.Count(finding);
            _audit?.Record(finding);
        }
    }

    /// <summary>The policy's block answer, naming the transaction, for a blocked request or response alike.</summary>
    private static Task WriteBlockAnswerAsync(HttpContext context, GatewayRequestFeature gateway, WafPolicyModel policy, WafRequest request)
    {
        gateway.AnsweredBy = Observability.AccessLogSubStatus.WafBlocked;
        return PlainTextResponse.WriteAsync(context, policy.BlockStatusCode, policy.BlockBody.Replace("{transactionId}", request.TransactionId, StringComparison.Ordinal));
    }

    /// <returns>True when the response is blocked.</returns>
    private bool InspectResponse(WafPolicyModel policy, string appName, WafRequest request, IReadOnlyList<WafResponseCheck> checks, WafResponse response, bool body)
    {
        var verdict = _engine.EvaluateResponse(policy, appName, request, checks, response, body);
        Record(verdict);

        if (verdict.Blocked)
        {
            var reason = verdict.Findings[^1];
            LogResponseBlocked(_logger, request.TransactionId, appName, reason.RuleId, reason.Message);
        }

        return verdict.Blocked;
    }

    /// <summary>
    /// Reads the first part of a body of a known <paramref name="length"/>, up to <paramref name="limit"/> bytes, into
    /// one pooled array and puts it, with the rest still to come from the client, in place of the request's body. A
    /// body that ends early (which the server's framing should not let happen) is kept as far as it came: the proxy
    /// then fails it as shorter than its Content-Length. Of a body of <see cref="UnknownLength"/>, up to the limit
    /// too: all of it when it ends before the array is full (no rest to come), else that part and the rest.
    /// </summary>
    private static async Task<InspectedRequestBody> ReadInspectedPartAsync(HttpContext context, long length, int limit)
    {
        var http = context.Request;
        var body = http.Body;
        var part = length == UnknownLength ? limit : (int)Math.Min(length, limit);
        var pooled = InspectionBuffers.Rent(part);
        var filled = 0;
        try
        {
            int read;
            while (filled < part && (read = await body.ReadAsync(pooled.AsMemory(filled, part - filled), context.Aborted())) > 0)
            {
                filled += read;
            }
        }
        catch
        {
            InspectionBuffers.Return(pooled);
            throw;
        }

        // Of a body of unknown length, all of it when it ended before the array was full.
        var inspected = (length == UnknownLength || length > part) && filled == part
            ? new InspectedRequestBody(pooled, filled, body, http.BodyReader)
            : new InspectedRequestBody(pooled, filled);
        http.Body = inspected;
        return inspected;
    }

    /// <summary>Gives the rules the body's inspected part, parsed by its content type.</summary>
    /// <returns>Why the body is refused, or null when it may pass.</returns>
    private static async Task<string?> InspectBodyAsync(HttpRequest http, WafPolicyModel policy, WafRequest request, ReadOnlyMemory<byte> inspected, bool truncated)
    {
        request.Body = inspected;
        request.BodyTruncated = truncated;
        await BodyParser.ParseAsync(request, http.ContentType, truncated);
        return UploadRefusal(policy, request);
    }

    /// <summary>
    /// A body of unknown length longer than the inspection limit (its first part already read, ahead of the rest, in
    /// the request's body): buffered (in memory to 64 KiB, then in a file) so the proxy can send every byte again from
    /// the start, and read only as far as needed; its first bytes, up to the inspection limit, go into
    /// <paramref name="inspected"/> for the rules.
    /// </summary>
    /// <returns>Why the body is refused, or null when it may pass.</returns>
    private static async Task<string?> ReadBodyAsync(HttpContext context, WafPolicyModel policy, WafRequest request, byte[] inspected)
    {
        var http = context.Request;
        http.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: policy.RequestBodyEnforcement ? policy.MaxRequestBodyBytes : long.MaxValue);
        var readLimit = policy.RequestBodyEnforcement ? Math.Max(policy.InspectLimitBytes, policy.MaxRequestBodyBytes) : policy.InspectLimitBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        long total = 0;
        var kept = 0;
        try
        {
            // Straight into the inspected array while it has room; past it, through a scratch buffer.
            int read;
            while (total <= readLimit
                && (read = await http.Body.ReadAsync(kept < policy.InspectLimitBytes ? inspected.AsMemory(kept, policy.InspectLimitBytes - kept) : buffer, context.Aborted())) > 0)
            {
                if (kept < policy.InspectLimitBytes)
                {
                    kept += read;
                }

                total += read;
            }
        }
        catch (IOException) when (policy.RequestBodyEnforcement)
        {
            // FileBufferingReadStream refuses to buffer past its limit: the body is too large.
            return TooLarge(policy);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (policy.RequestBodyEnforcement && total > policy.MaxRequestBodyBytes)
        {
            return TooLarge(policy);
        }

        http.Body.Position = 0;
        return await InspectBodyAsync(http, policy, request, inspected.AsMemory(0, kept), truncated: total > kept);
    }

    private static string? UploadRefusal(WafPolicyModel policy, WafRequest request) =>
        policy.FileUploadEnforcement && request.FileBytes > policy.FileUploadLimitBytes
            ? $"the uploaded files are larger than {policy.FileUploadLimitBytes / (1024 * 1024)} MB"
            : null;

    [LoggerMessage(EventId = Logging.EventIds.WafBlocked, Level = LogLevel.Information, Message = "WAF blocked request {TransactionId} to app '{App}': rule {RuleId}: {Message}")]
    private static partial void LogBlocked(ILogger logger, string transactionId, string app, string ruleId, string message);

    [LoggerMessage(EventId = Logging.EventIds.WafResponseBlocked, Level = LogLevel.Information, Message = "WAF blocked the response to request {TransactionId} of app '{App}': rule {RuleId}: {Message}")]
    private static partial void LogResponseBlocked(ILogger logger, string transactionId, string app, string ruleId, string message);
}

/// <summary>WAF matches and blocks by policy, rule and action (kept across reloads).</summary>
internal sealed class WafCounters
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Policy, string RuleId, string Action), long> _counts = new();

    /// <summary>The last blocking findings, for the dashboard (the findings themselves: nothing is copied).</summary>
    public Metrics.RecentEvents<WafFinding> RecentBlocks { get; } = new();

    public void Count(WafFinding finding)
    {
        _counts.AddOrUpdate((finding.PolicyName, finding.RuleId, finding.Action), 1, static (_, n) => n + 1);
        if (string.Equals(finding.Action, "Blocked", StringComparison.Ordinal))
        {
            RecentBlocks.Add(finding);
        }
    }

    public long Get(string policy, string ruleId, string action) => _counts.TryGetValue((policy, ruleId, action), out var n) ? n : 0;

    /// <summary>Findings by policy, rule id and action (Blocked, Detected, Matched), for the metrics exporter.</summary>
    public IEnumerable<KeyValuePair<(string Policy, string RuleId, string Action), long>> All => _counts;
}
