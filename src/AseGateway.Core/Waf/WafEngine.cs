using AseGateway.Configuration;
using Microsoft.Extensions.Logging;

namespace AseGateway.Waf;

/// <summary>
/// The outcome of evaluating one request against one policy; <paramref name="ResponseChecks"/> lists the rule sets
/// whose response phases still have to run when the request passes.
/// </summary>
internal sealed record WafVerdict(bool Blocked, IReadOnlyList<WafFinding> Findings, IReadOnlyList<WafResponseCheck>? ResponseChecks = null)
{
    /// <summary>A request that passed with nothing to record and no response phase: the usual verdict, shared.</summary>
    public static readonly WafVerdict Clean = new(false, []);
}

/// <summary>
/// Evaluates a request in Azure's order: custom rules by priority (Allow and Block end evaluation, Log continues;
/// rate-limit rules count first), then managed rule sets (anomaly scoring, with per-rule overrides), then hooks.
/// In Detection mode nothing is blocked and every match is recorded; in Prevention the first block wins.
/// </summary>
internal sealed partial class WafEngine
{
    private readonly RateLimiter _rateLimiter;
    private readonly IReadOnlyList<IWafHook> _inProcessHooks;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public WafEngine(RateLimiter rateLimiter, IReadOnlyList<IWafHook> inProcessHooks, TimeProvider time, ILogger logger)
    {
        _rateLimiter = rateLimiter;
        _inProcessHooks = inProcessHooks;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Custom rules and managed rule sets run synchronously; only hooks await. A request that nothing matched gets the
    /// shared <see cref="WafVerdict.Clean"/>: no findings list, no verdict and no state machine per clean request.
    /// </summary>
    public ValueTask<WafVerdict> EvaluateAsync(WafPolicyModel policy, string appName, WafRequest request, CancellationToken cancellationToken)
    {
        List<WafFinding>? findings = null;
        if (EvaluateRules(policy, appName, request, ref findings, out var responseChecks) is { } decided)
        {
            return new ValueTask<WafVerdict>(decided);
        }

        if (_inProcessHooks.Count == 0 && policy.Hooks.Length == 0)
        {
            return new ValueTask<WafVerdict>(findings is null && responseChecks is null ? WafVerdict.Clean : new WafVerdict(false, findings ?? [], responseChecks));
        }

        return RunHooksAsync(policy, appName, request, findings ?? [], responseChecks, cancellationToken);
    }

    /// <returns>The verdict when a rule decided it (Allow, or Block in Prevention), else null.</returns>
    private WafVerdict? EvaluateRules(WafPolicyModel policy, string appName, WafRequest request, ref List<WafFinding>? findings, out List<WafResponseCheck>? responseChecks)
    {
        var prevention = policy.Mode == WafMode.Prevention;
        responseChecks = null;

        foreach (var rule in policy.CustomRules)
        {
            if (rule.Match(request) is not { } matched)
            {
                continue;
            }

            if (rule.IsRateLimit && !_rateLimiter.Exceeds($"{policy.Name}/{rule.Name}", rule.GroupByClient ? request.ClientAddress : null, rule.RateWindow, rule.RateThreshold))
            {
                continue;
            }

            var message = rule.IsRateLimit ? $"Rate limit of {rule.RateThreshold} per {rule.RateWindow.TotalMinutes:0} min exceeded" : $"Custom rule {rule.Name} matched";
            findings ??= [];
            switch (rule.Action)
            {
                case WafAction.Allow:
                    findings.Add(Finding(policy, appName, request, "CustomRule", rule.Name, "CustomRules", message, "Allowed", matched));
                    return new WafVerdict(false, findings);
                case WafAction.Block:
                    findings.Add(Finding(policy, appName, request, "CustomRule", rule.Name, "CustomRules", message, prevention ? "Blocked" : "Detected", matched));
                    if (prevention)
                    {
                        return new WafVerdict(true, findings);
                    }

                    break;
                default:
                    findings.Add(Finding(policy, appName, request, "CustomRule", rule.Name, "CustomRules", message, "Matched", matched));
                    break;
            }
        }

        foreach (var managed in policy.ManagedRuleSets)
        {
            var context = ManagedRuleContext.Rent(managed.Overrides, managed.Exclusions, prevention);
            managed.RuleSet.Evaluate(request, context);
            if (context.IsUnused)
            {
                // Nothing matched (the anomaly threshold is at least 1) and nothing waits for the response.
                context.Release();
                continue;
            }

            if (managed.RuleSet.ScoresItself)
            {
                if (context.Matches.Count > 0 && RecordSelfScored(policy, appName, request, managed.RuleSet, context, findings ??= [], prevention))
                {
                    return new WafVerdict(true, findings);
                }

                if (context.ResponseInspection is { } inspection)
                {
                    (responseChecks ??= []).Add(new WafResponseCheck(managed.RuleSet, context, inspection));
                }

                continue;
            }

            var score = 0;
            var matches = context.Matches;
            for (var i = 0; i < matches.Count; i++)
            {
                var match = matches[i];
                var action = context.ActionOf(match.Rule.RuleId);
                var data = $"Matched Data: {BodyParser.Truncate(BodyParser.Mask(match.Variable, match.MatchedData))} found within {match.Variable}";
                findings ??= [];
                if (action == "Allow")
                {
                    findings.Add(Finding(policy, appName, request, managed.RuleSet, match, "Allowed", data));
                    return new WafVerdict(false, findings);
                }

                if (action == "Block")
                {
                    findings.Add(Finding(policy, appName, request, managed.RuleSet, match, prevention ? "Blocked" : "Detected", data));
                    if (prevention)
                    {
                        return new WafVerdict(true, findings);
                    }

                    continue;
                }

                findings.Add(Finding(policy, appName, request, managed.RuleSet, match, "Matched", data));
                if (action != "Log")
                {
                    score += (int)match.Rule.Severity;
                }
            }

            if (score >= policy.AnomalyThreshold)
            {
                var message = $"Inbound Anomaly Score Exceeded (Total Score: {score})";
                (findings ??= []).Add(Finding(policy, appName, request, managed.RuleSet.RuleSetType, "949110", "BLOCKING-EVALUATION", message, prevention ? "Blocked" : "Detected", string.Empty, managed.RuleSet.RuleSetVersion));
                if (prevention)
                {
                    return new WafVerdict(true, findings);
                }
            }
        }

        return null;
    }

    private async ValueTask<WafVerdict> RunHooksAsync(WafPolicyModel policy, string appName, WafRequest request, List<WafFinding> findings, List<WafResponseCheck>? responseChecks, CancellationToken cancellationToken)
    {
        var prevention = policy.Mode == WafMode.Prevention;
        foreach (var hook in _inProcessHooks)
        {
            if (await RunHookAsync(hook, policy, appName, request, findings, prevention, cancellationToken))
            {
                return new WafVerdict(true, findings);
            }
        }

        foreach (var hook in policy.Hooks)
        {
            if (await RunHookAsync(hook, policy, appName, request, findings, prevention, cancellationToken))
            {
                return new WafVerdict(true, findings);
            }
        }

        return new WafVerdict(false, findings, responseChecks);
    }

    /// <summary>
    /// Runs phase 3 (<paramref name="body"/> false) or 4 of the rule sets the request's verdict kept, on the worker's
    /// response; in Prevention the first blocking rule wins, as for requests.
    /// </summary>
    public WafVerdict EvaluateResponse(WafPolicyModel policy, string appName, WafRequest request, IReadOnlyList<WafResponseCheck> checks, WafResponse response, bool body)
    {
        var findings = new List<WafFinding>();
        var prevention = policy.Mode == WafMode.Prevention;
        foreach (var check in checks)
        {
            var reported = check.Context.Matches.Count;
            if (body)
            {
                check.Inspection.InspectBody(response);
            }
            else
            {
                check.Inspection.InspectHeaders(response);
            }

            if (RecordSelfScored(policy, appName, request, check.RuleSet, check.Context, findings, prevention, reported))
            {
                return new WafVerdict(true, findings);
            }
        }

        return new WafVerdict(false, findings);
    }

    /// <summary>Findings of a rule set that scores itself: its blocking rules block in Prevention, the rest are recorded.</summary>
    /// <returns>True when the request is blocked.</returns>
    private bool RecordSelfScored(WafPolicyModel policy, string appName, WafRequest request, IManagedRuleSet set, ManagedRuleContext context, List<WafFinding> findings, bool prevention, int firstMatch = 0)
    {
        for (var i = firstMatch; i < context.Matches.Count; i++)
        {
            var match = context.Matches[i];
            var data = $"Matched Data: {BodyParser.Truncate(BodyParser.Mask(match.Variable, match.MatchedData))} found within {match.Variable}";
            var action = context.ActionOf(match.Rule.RuleId);
            var blocks = action == "Block" || (match.Interrupts && action is null);
            findings.Add(Finding(policy, appName, request, set, match, blocks ? (prevention ? "Blocked" : "Detected") : "Matched", data));
            if (blocks && prevention)
            {
                return true;
            }
        }

        return false;
    }

    /// <returns>True when the request is blocked.</returns>
    private async ValueTask<bool> RunHookAsync(IWafHook hook, WafPolicyModel policy, string appName, WafRequest request, List<WafFinding> findings, bool prevention, CancellationToken cancellationToken)
    {
        WafHookResult result;
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(hook.Budget);
        try
        {
            result = await hook.InspectAsync(request, budget.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = ex is OperationCanceledException ? $"no answer within {hook.Budget.TotalMilliseconds:0} ms" : ex.Message;
            LogHookFailed(_logger, hook.Name, reason, hook.OnError);
            if (hook.OnError != WafAction.Block)
            {
                return false;
            }

            result = new WafHookResult(WafAction.Block, hook.Name, $"WAF hook '{hook.Name}' failed ({reason}); failing closed");
        }

        if (result.Decision == WafAction.Allow)
        {
            return false;
        }

        var blocks = result.Decision == WafAction.Block;
        findings.Add(Finding(policy, appName, request, "Hook", string.IsNullOrEmpty(result.RuleId) ? hook.Name : result.RuleId, hook.Name, result.Message, blocks ? (prevention ? "Blocked" : "Detected") : "Matched", string.Empty));
        return blocks && prevention;
    }

    private WafFinding Finding(WafPolicyModel policy, string app, WafRequest request, IManagedRuleSet set, ManagedRuleMatch match, string action, string data) =>
        Finding(policy, app, request, set.RuleSetType, match.Rule.RuleId, match.Rule.RuleGroup, match.Message, action, data, set.RuleSetVersion);

    private WafFinding Finding(WafPolicyModel policy, string app, WafRequest request, string ruleSetType, string ruleId, string ruleGroup, string message, string action, string data, string ruleSetVersion = "")
        => new(
            _time.GetUtcNow(),
            request.TransactionId,
            request.ClientAddress?.ToString() ?? string.Empty,
            request.ClientPort,
            request.Host,
            BodyParser.Truncate(BodyParser.MaskQuery(request.Uri), 512),
            ruleSetType,
            ruleSetVersion,
            ruleId,
            ruleGroup,
            message,
            action,
            BodyParser.Truncate(data, 200),
            policy.Name,
            "App",
            app);

    [LoggerMessage(EventId = Logging.EventIds.WafHookFailed, Level = LogLevel.Warning, Message = "WAF hook '{Hook}' failed: {Reason}; applying onError {OnError}.")]
    private static partial void LogHookFailed(ILogger logger, string hook, string reason, WafAction onError);
}
