using System.Net;
using AseGateway.Waf;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Tests.Waf;

/// <summary>
/// The engine reuses a rule set's context after an evaluation that reported nothing and kept nothing for the
/// response; one that reported a match stays as it is for the findings that read it.
/// </summary>
public sealed class ManagedRuleContextTests
{
    private static readonly Dictionary<string, WafRuleOverride> NoOverrides = [];

    [Fact]
    public void Released_IsRentedAgain_WithTheNewEvaluationsSettings()
    {
        var disabled = new Dictionary<string, WafRuleOverride> { ["941100"] = new WafRuleOverride(Disabled: true, Action: null) };
        var first = ManagedRuleContext.Rent(disabled, [], prevention: true);
        Assert.False(first.IsEnabled(Rule("941100")));
        first.Release();

        var second = ManagedRuleContext.Rent(NoOverrides, [], prevention: false);

        Assert.Same(first, second);
        Assert.False(second.Prevention);
        Assert.True(second.IsEnabled(Rule("941100")));
        Assert.Empty(second.Matches);
        second.Release();
    }

    [Fact]
    public void WithAMatch_IsNotReused_ItsMatchesOutliveLaterEvaluations()
    {
        var attacked = Evaluate("/?q=%3Cscript%3Ealert(1)%3C/script%3E", out var kept);
        Assert.False(kept.IsUnused);

        // Clean evaluations on the same thread take the spare context, never the one with the match.
        for (var i = 0; i < 3; i++)
        {
            var clean = Evaluate("/index.html", out var context);
            Assert.Empty(clean);
            Assert.NotSame(kept, context);
            context.Release();
        }

        var match = Assert.Single(attacked);
        Assert.Equal("941100", match.Rule.RuleId);
        Assert.Same(attacked, kept.Matches);
    }

    private static IReadOnlyList<ManagedRuleMatch> Evaluate(string target, out ManagedRuleContext context)
    {
        var http = new DefaultHttpContext();
        var question = target.IndexOf('?', StringComparison.Ordinal);
        http.Request.Method = "GET";
        http.Request.Path = question < 0 ? target : target[..question];
        http.Request.QueryString = new QueryString(question < 0 ? string.Empty : target[question..]);
        http.Request.Host = new HostString("web.contoso.test");
        context = ManagedRuleContext.Rent(NoOverrides, [], prevention: true);
        new AseDefaultRuleSet().Evaluate(new WafRequest(http, IPAddress.Loopback, 50000), context);
        return context.Matches;
    }

    private static ManagedRuleInfo Rule(string id)
    {
        foreach (var rule in new AseDefaultRuleSet().Rules)
        {
            if (rule.RuleId == id)
            {
                return rule;
            }
        }

        throw new InvalidOperationException($"No AseDefault rule {id}.");
    }
}
