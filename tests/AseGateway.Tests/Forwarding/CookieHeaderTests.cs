using System.Net;
using AseGateway.Forwarding;
using AseGateway.Waf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Tests.Forwarding;

/// <summary>
/// The Cookie header read in place: what the WAF inspects and where the affinity stage finds its cookie. Looser than
/// ASP.NET Core's parser on purpose: nothing the header carries may escape the WAF by sitting where that parser skips.
/// </summary>
public sealed class CookieHeaderTests
{
    private static List<(string Name, string Value)> All(params string[] headers)
    {
        var cookies = new List<(string, string)>();
        foreach (var header in headers)
        {
            var offset = 0;
            while (CookieHeader.TryNext(header, ref offset, out var name, out var value))
            {
                cookies.Add((new string(name), CookieHeader.Decode(value)));
            }
        }

        return cookies;
    }

    [Fact]
    public void TryNext_SplitsOnSemicolonsAndCommas_TrimsAndDecodes()
    {
        Assert.Equal(
            [("session", "3f9c"), ("theme", "dark"), ("consent", "analytics=false&ads=false"), ("_ga", "GA1.1.17")],
            All("session=3f9c; theme=dark;consent=analytics%3Dfalse%26ads%3Dfalse ,\t_ga = GA1.1.17;; "));
        Assert.Empty(All(string.Empty, " ; ,, ;"));
    }

    [Fact]
    public void TryNext_KeepsWhatTheFrameworksParserSkips()
    {
        // A name sent twice is two cookies; a value with a space or quotes is kept whole; a segment without '=' is a
        // value with no name; an empty value is a cookie with an empty value.
        Assert.Equal(
            [("a", "1"), ("a", "2"), ("b", "x y"), ("c", "\"q\""), (string.Empty, "loose"), ("d", string.Empty)],
            All("a=1; a=2; b=x y; c=\"q\"; loose; d="));
    }

    [Fact]
    public void Last_FindsTheLastNonEmptyValueOfAName_IgnoringCase_AcrossHeaders()
    {
        var headers = new StringValues(["ARRAffinity=first; other=1", "arraffinity=second; ARRAffinity=; x=2"]);

        Assert.Equal("second", CookieHeader.Last(headers, "ARRAffinity"));
        Assert.Equal("2", CookieHeader.Last(headers, "x"));
        Assert.Null(CookieHeader.Last(headers, "missing"));
        Assert.Null(CookieHeader.Last(StringValues.Empty, "x"));
        Assert.Equal("a b", CookieHeader.Last(new StringValues("x=a%20b"), "x"));
    }

    [Theory]
    [InlineData("id=%3Cscript%3Ealert(1)%3C/script%3E", "941100")]
    [InlineData("tracking=1; x y=<script>alert(1)</script>", "941100")]
    [InlineData("pref=1, q=1' OR '1'='1", "942100")]
    [InlineData("<script>alert(1)</script>", "941100")]
    public void AseDefault_InspectsEveryCookieValue_TheFrameworkWouldParseOrNot(string cookie, string ruleId)
    {
        var matches = Evaluate(cookie, []);

        Assert.Contains(matches, m => m.Rule.RuleId == ruleId && m.Variable.StartsWith("REQUEST_COOKIES:", StringComparison.Ordinal));
    }

    [Fact]
    public void AseDefault_CookieExclusion_SparesThatCookieOnly_ACommaDoesNotHideAnotherInIt()
    {
        WafExclusion[] exclusions = [new([WafInspectedKind.CookieValue], "Equals", "editor", Scope: null)];

        Assert.Empty(Evaluate("editor=<script>alert(1)</script>; theme=dark", exclusions));
        var hidden = Assert.Single(Evaluate("editor=ok, theme=<script>alert(1)</script>", exclusions));
        Assert.Equal("REQUEST_COOKIES:theme", hidden.Variable);
        Assert.Empty(Evaluate("session=3f9c2a7e; theme=dark; _ga=GA1.1.1234567890.1733222222", []));
    }

    private static IReadOnlyList<ManagedRuleMatch> Evaluate(string cookie, WafExclusion[] exclusions)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "GET";
        http.Request.Path = "/";
        http.Request.Host = new HostString("web.contoso.test");
        http.Request.Headers.Cookie = cookie;
        var context = new ManagedRuleContext(new Dictionary<string, WafRuleOverride>(), exclusions);
        new AseDefaultRuleSet().Evaluate(new WafRequest(http, IPAddress.Loopback, 50000), context);
        return context.Matches;
    }
}
