using System.Net;
using AseGateway.Configuration;
using AseGateway.Waf;
using Microsoft.AspNetCore.Http;

namespace AseGateway.Tests.Waf;

/// <summary>Each operator, transform and match variable of Azure's custom rules, against a real request object.</summary>
public sealed class WafConditionTests
{
    private static WafRequest Request(string method = "GET", string target = "/shop/cart?item=7&q=Hello%20World", string? body = null, string contentType = "application/x-www-form-urlencoded", string client = "203.0.113.9", params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        var question = target.IndexOf('?', StringComparison.Ordinal);
        context.Request.Method = method;
        context.Request.Path = question < 0 ? target : target[..question];
        context.Request.QueryString = new QueryString(question < 0 ? string.Empty : target[question..]);
        context.Request.Host = new HostString("web.contoso.test");
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }

        var request = new WafRequest(context, IPAddress.Parse(client), 50000, "tx-1");
        if (body is not null)
        {
            request.Body = System.Text.Encoding.UTF8.GetBytes(body);
            BodyParser.ParseAsync(request, contentType, truncated: false).GetAwaiter().GetResult();
        }

        return request;
    }

    private static bool Matches(WafRequest request, string variable, string? selector, string op, string[] values, string[]? transforms = null, bool negate = false) =>
        Rule(variable, selector, op, values, transforms, negate).Match(request) is not null;

    private static CompiledCustomRule Rule(string variable, string? selector, string op, string[] values, string[]? transforms = null, bool negate = false) =>
        CompiledCustomRule.Compile(new WafCustomRuleConfig
        {
            Name = "r",
            Priority = 1,
            RuleType = WafRuleType.MatchRule,
            Action = WafAction.Block,
            MatchConditions =
            [
                new WafMatchConditionConfig
                {
                    MatchVariables = [new WafMatchVariableConfig { VariableName = variable, Selector = selector }],
                    Operator = op,
                    MatchValues = values,
                    Transforms = transforms,
                    NegationConditon = negate,
                },
            ],
        });

    [Theory]
    [InlineData("RemoteAddr", null, "IPMatch", "203.0.113.0/24", true)]
    [InlineData("RemoteAddr", null, "IPMatch", "198.51.100.0/24", false)]
    [InlineData("RequestMethod", null, "Equal", "GET", true)]
    [InlineData("RequestMethod", null, "Equal", "get", false)]
    [InlineData("RequestUri", null, "BeginsWith", "/shop/", true)]
    [InlineData("RequestUri", null, "EndsWith", "World", true)]
    [InlineData("RequestUri", null, "Contains", "cart?item", true)]
    [InlineData("QueryString", null, "Contains", "item=7", true)]
    [InlineData("QueryString", "q", "Equal", "Hello World", true)]
    [InlineData("QueryString", "item", "LessThan", "8", true)]
    [InlineData("QueryString", "item", "GreaterThan", "7", false)]
    [InlineData("QueryString", "item", "GreaterThanOrEqual", "7", true)]
    [InlineData("QueryString", "item", "LessThanOrEqual", "6", false)]
    [InlineData("RequestHeaders", "User-Agent", "Regex", "^evil(bot|crawler)/[0-9]+$", true)]
    [InlineData("RequestHeaders", "User-Agent", "Regex", "^good", false)]
    [InlineData("RequestCookies", "session", "Equal", "abc", true)]
    [InlineData("RequestCookies", null, "Contains", "ab", true)]
    [InlineData("RequestUri", null, "Any", "", true)]
    public void Operator_OnVariable_Matches(string variable, string? selector, string op, string value, bool expected)
    {
        var request = Request(headers: [("User-Agent", "evilbot/2"), ("Cookie", "session=abc")]);

        Assert.Equal(expected, Matches(request, variable, selector, op, value.Length == 0 ? [] : [value]));
    }

    [Theory]
    [InlineData("Lowercase", "EVILBOT", "evilbot")]
    [InlineData("Uppercase", "evilbot", "EVILBOT")]
    [InlineData("Trim", "  x  ", "x")]
    [InlineData("UrlDecode", "%3Cscript%3E+1", "<script> 1")]
    [InlineData("UrlEncode", "a b&c", "a%20b%26c")]
    [InlineData("RemoveNulls", "se\0lect", "select")]
    [InlineData("HtmlEntityDecode", "&lt;script&gt;&#x27;", "<script>'")]
    public void Transform_IsAppliedBeforeMatching(string transform, string input, string expected)
    {
        Assert.Equal(expected, WafTransforms.Apply(input, [Enum.Parse<WafTransform>(transform)]));
    }

    [Fact]
    public void SingleValuedVariables_TransformAndNegate_AsCollections()
    {
        var request = Request(method: "POST", target: "/Shop/Cart", body: "a=1", client: "198.51.100.20");

        Assert.True(Matches(request, "RequestUri", null, "BeginsWith", ["/shop/"], ["Lowercase"]));
        Assert.False(Matches(request, "RequestUri", null, "BeginsWith", ["/shop/"]));
        Assert.True(Matches(request, "RemoteAddr", null, "IPMatch", ["203.0.113.0/24"], negate: true));
        Assert.False(Matches(request, "RemoteAddr", null, "IPMatch", ["198.51.100.0/24"], negate: true));
        Assert.True(Matches(request, "RequestMethod", null, "Equal", ["post"], ["Lowercase"]));
        Assert.True(Matches(request, "RequestBody", null, "Equal", ["a=1"]));
        Assert.True(Matches(request, "QueryString", null, "Contains", ["x"], negate: true));
    }

    /// <summary>
    /// Lowercase then a string operator compares an ASCII value ignoring case instead of lowercasing it: the outcome
    /// must be what lowercasing gives, for every operator, for match values that are not lowercase (never matched),
    /// and for values with letters outside ASCII, which are lowercased as before (the Kelvin sign becomes k).
    /// </summary>
    [Theory]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "Contains", "evilbot-7", true)]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "Contains", "EvilBot-7", false)]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "BeginsWith", "mozilla/", true)]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "EndsWith", "/1.0", true)]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "Equal", "mozilla/5.0 evilbot-7/1.0", true)]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "Equal", "mozilla/5.0 evilbot-7", false)]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "Contains", "\u00fc", false)]
    [InlineData("Mozilla/5.0 EVILBOT-7/1.0", "Contains", "bot-7/", true)]
    [InlineData("Mozilla/5.0 EvilBot-7/1.0", "Contains", "evilbot-8", false)]
    [InlineData("\u212Ailler/2 \u00DCber", "Contains", "killer/2", true)]
    [InlineData("\u212Ailler/2 \u00DCber", "Contains", "\u00fcber", true)]
    [InlineData("I", "Equal", "\u0131", false)]
    [InlineData("Scanner", "Regex", "^scanner$", true)]
    public void Lowercase_ThenStringOperator_MatchesAsLowercasingWould(string userAgent, string op, string value, bool expected)
    {
        var request = Request(headers: [("User-Agent", userAgent)]);

        Assert.Equal(expected, Matches(request, "RequestHeaders", "User-Agent", op, [value], ["Lowercase"]));
        Assert.Equal(op == "Regex" ? expected : WafTransforms.Apply(userAgent, [WafTransform.Lowercase]) switch
        {
            var lowered when op == "Contains" => lowered.Contains(value, StringComparison.Ordinal),
            var lowered when op == "BeginsWith" => lowered.StartsWith(value, StringComparison.Ordinal),
            var lowered when op == "EndsWith" => lowered.EndsWith(value, StringComparison.Ordinal),
            var lowered => lowered == value,
        }, expected);
    }

    [Fact]
    public void Lowercase_ThenStringOperator_LogsTheLowercasedValue()
    {
        var rule = Rule("RequestHeaders", "User-Agent", "Contains", ["evilbot"], ["Lowercase"]);

        Assert.True(rule.Conditions[0].ComparesIgnoringAsciiCase);
        Assert.NotNull(rule.Conditions[0].ContainedIgnoringAsciiCase);
        Assert.Null(Rule("RequestHeaders", "User-Agent", "Contains", ["evilbot", string.Empty], ["Lowercase"]).Conditions[0].ContainedIgnoringAsciiCase);
        Assert.True(Rule("RequestHeaders", "User-Agent", "Contains", ["nothing", string.Empty], ["Lowercase"]).Match(Request(headers: [("User-Agent", "Mozilla/5.0")])) is not null);
        Assert.Equal("mozilla/5.0 evilbot/2", rule.Match(Request(headers: [("User-Agent", "Mozilla/5.0 EvilBot/2")])));
        Assert.Null(rule.Match(Request(headers: [("User-Agent", "Mozilla/5.0 GoodBot/2")])));
    }

    [Theory]
    [InlineData("203.0.113.9", "203.0.113.0/24", true)]
    [InlineData("::ffff:203.0.113.9", "203.0.113.0/24", true)]
    [InlineData("2001:db8::7", "2001:db8::/64", true)]
    [InlineData("2001:db8:1::7", "2001:db8::/64", false)]
    [InlineData("198.51.100.20", "203.0.113.0/24", false)]
    public void RemoteAddr_IPMatch_OnTheClientAddress_MappedIPv4AsIPv4(string client, string range, bool expected)
    {
        var request = Request(client: client);

        Assert.Equal(expected, Matches(request, "RemoteAddr", null, "IPMatch", [range]));
        Assert.Equal(!expected, Matches(request, "RemoteAddr", null, "IPMatch", [range], negate: true));
        Assert.Equal(expected, Matches(request, "RemoteAddr", null, "IPMatch", [range], ["Trim"]));
    }

    [Fact]
    public void NamedHeaderAndCookie_EveryValueInspected_AbsentIsNoValue()
    {
        // A header sent twice: each value is tested, and the audit log gets the one that matched.
        var twice = Request(headers: [("X-Client", "app/1"), ("X-Client", "EvilBot/3")]);
        var rule = CompiledCustomRule.Compile(new WafCustomRuleConfig
        {
            Name = "client",
            Priority = 1,
            RuleType = WafRuleType.MatchRule,
            Action = WafAction.Block,
            MatchConditions = [new() { MatchVariables = [new() { VariableName = "RequestHeaders", Selector = "x-client" }], Operator = "Contains", MatchValues = ["evilbot"], Transforms = ["Lowercase"] }],
        });
        Assert.Equal("evilbot/3", rule.Match(twice));

        // No Cookie header at all: a named cookie has no value, so it matches nothing, and its negation holds.
        var noCookies = Request(headers: [("User-Agent", "h2load nghttp2/1.52.0")]);
        Assert.False(Matches(noCookies, "RequestCookies", "session", "Any", []));
        Assert.True(Matches(noCookies, "RequestCookies", "session", "Equal", ["abc"], negate: true));
        Assert.False(Matches(noCookies, "RequestCookies", null, "Any", []));
        Assert.True(Matches(Request(headers: [("Cookie", "theme=dark; session=abc")]), "RequestCookies", "session", "Equal", ["abc"]));
    }

    [Fact]
    public void Conditions_AreAnded_ValuesOred_NegationFlips()
    {
        var request = Request(headers: [("User-Agent", "EvilBot/1")]);

        Assert.True(Matches(request, "RequestHeaders", "User-Agent", "Contains", ["nothing", "evilbot"], ["Lowercase"]));
        Assert.False(Matches(request, "RequestHeaders", "User-Agent", "Contains", ["evilbot"]));
        Assert.True(Matches(request, "RequestHeaders", "User-Agent", "Contains", ["goodbot"], negate: true));

        var both = CompiledCustomRule.Compile(new WafCustomRuleConfig
        {
            Name = "and",
            Priority = 1,
            RuleType = WafRuleType.MatchRule,
            Action = WafAction.Block,
            MatchConditions =
            [
                new() { MatchVariables = [new() { VariableName = "RequestMethod" }], Operator = "Equal", MatchValues = ["GET"] },
                new() { MatchVariables = [new() { VariableName = "RequestUri" }], Operator = "Contains", MatchValues = ["/admin"] },
            ],
        });
        Assert.Null(both.Match(request));
        Assert.NotNull(both.Match(Request(target: "/admin/users")));
    }

    [Theory]
    [InlineData("application/x-www-form-urlencoded", "user=alice&comment=hi%20there", "comment", "hi there")]
    [InlineData("application/json", """{"order":{"items":[{"sku":"A-1"}]},"note":"x"}""", "order.items[0].sku", "A-1")]
    [InlineData("application/xml", """<order id="7"><note>hello</note></order>""", "order@id", "7")]
    [InlineData("text/xml", """<order id="7"><note>hello</note></order>""", "note", "hello")]
    public void PostArgs_FromEachBodyType(string contentType, string body, string name, string value)
    {
        var request = Request(method: "POST", body: body, contentType: contentType);

        Assert.Contains(new KeyValuePair<string, string>(name, value), request.BodyArgs);
        Assert.True(Matches(request, "PostArgs", name, "Equal", [value]));
        Assert.Null(request.BodyError);
    }

    [Fact]
    public void Multipart_FilesAreCountedNotInspected()
    {
        const string body = "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nreport\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n<script>not an arg</script>\r\n--b--\r\n";
        var request = Request(method: "POST", body: body, contentType: "multipart/form-data; boundary=b");

        Assert.Equal([new KeyValuePair<string, string>("title", "report")], request.BodyArgs);
        Assert.Equal(1, request.FileCount);
        Assert.Equal(27, request.FileBytes);
    }

    [Theory]
    [InlineData("application/json", "{\"a\": [1, 2")]
    [InlineData("application/xml", "<a><b></a>")]
    [InlineData("application/xml", "<!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>")]
    public void MalformedBody_IsAFinding_NotACrash(string contentType, string body)
    {
        var request = Request(method: "POST", body: body, contentType: contentType);

        Assert.NotNull(request.BodyError);
    }
}
