using System.Text;
using AseGateway.Http1Front;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// Which heads the front serves itself and which it leaves to Kestrel: plain ones are Complete, anything Kestrel
/// decodes, normalises, frames or refuses is Unsupported, and a head still arriving is Incomplete.
/// </summary>
public sealed class RequestHeadParserTests
{
    private const int Limit = 32 * 1024;

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", false, false)]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n", false, false)]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", false, true)]
    [InlineData("GET / HTTP/1.0\r\nHost: a.test\r\n\r\n", true, true)]
    [InlineData("GET / HTTP/1.0\r\nHost: a.test\r\nConnection: Keep-Alive\r\n\r\n", true, false)]
    [InlineData("GET / HTTP/1.0\r\nHost: a.test\r\nConnection: close\r\n\r\n", true, true)]
    [InlineData("GET / HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive, close\r\n\r\n", true, true)]
    public void Version_AndWhetherTheConnectionEnds_AsKestrelReadsThem(string raw, bool http10, bool closes)
    {
        Assert.Equal(HeadParseResult.Complete, Parse(raw, out var head));
        Assert.Equal(http10, head.Http10);
        Assert.Equal(closes, head.CloseAfterResponse);
    }

    [Theory]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 300000\r\n\r\n", true)]
    [InlineData("PUT /x HTTP/1.1\r\nHost: a.test\r\nexpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", true)]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\n\r\n", true)]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\n", false)]
    public void ExpectContinue_WithASizedBodyOrNone_IsTheFronts(string raw, bool expectContinue)
    {
        Assert.Equal(HeadParseResult.Complete, Parse(raw, out var head));
        Assert.Equal(expectContinue, head.ExpectContinue);
    }

    [Fact]
    public void RepeatedFields_UnderTheOtherVersion_TakeTheNewRequestLinesVersion()
    {
        var head = new RequestHead();
        const string Fields = "Host: a.test\r\nConnection: keep-alive\r\n\r\n";
        Assert.Equal(HeadParseResult.Complete, Parse(head, "GET / HTTP/1.0\r\n" + Fields));
        Assert.True(head.Http10);
        Assert.Equal(HeadParseResult.Complete, Parse(head, "GET / HTTP/1.1\r\n" + Fields));
        Assert.True(head.FieldsRepeated);
        Assert.False(head.Http10);
        Assert.False(head.CloseAfterResponse);

        // A POST without a length is bodiless under HTTP/1.1 and Kestrel's 400 under HTTP/1.0, with the same fields.
        Assert.Equal(HeadParseResult.Complete, Parse(head, "POST / HTTP/1.1\r\n" + Fields));
        Assert.Equal(HeadParseResult.Unsupported, Parse(head, "POST / HTTP/1.0\r\n" + Fields));

        // A chunked body is the front's under HTTP/1.1 and Kestrel's under HTTP/1.0, with the same fields.
        const string Chunked = "Host: a.test\r\nTransfer-Encoding: chunked\r\n\r\n";
        Assert.Equal(HeadParseResult.Complete, Parse(head, "POST / HTTP/1.1\r\n" + Chunked));
        Assert.Equal(HeadParseResult.Unsupported, Parse(head, "POST / HTTP/1.0\r\n" + Chunked));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")]
    [InlineData("HEAD /x/y.css?v=1&w=%20 HTTP/1.1\r\nHost: a.test:8080\r\nAccept: */*\r\n\r\n")]
    [InlineData("DELETE /items/1 HTTP/1.1\r\nHost: 10.0.0.1\r\nConnection: keep-alive\r\nX-Empty:\r\n\r\n")]
    [InlineData("GET /a/.b/..c/ HTTP/1.1\r\nHost: a.test\r\nUser-Agent:  spaced value \t\r\n\r\n")]
    [InlineData("PURGE /cache HTTP/1.1\r\nHost: a.test\r\nCookie: a=1; b=2\r\nCookie: c=3\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX-Tab: a\tb\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\ncontent-length: 0\r\n\r\n")]
    [InlineData("GET / HTTP/1.0\r\nHost: a.test\r\n\r\n")]
    [InlineData("POST / HTTP/1.0\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("DELETE /x HTTP/1.0\r\nHost: a.test\r\n\r\n")]
    [InlineData("POST /form HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc")]
    public void Plain_IsComplete(string raw) => Assert.Equal(HeadParseResult.Complete, Parse(raw, out _));

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: a.test\n\n", "bare LF line ends")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\nX: 1\r\n\r\n", "a bare LF inside the head")]
    [InlineData("POST / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked HTTP/1.0")]
    [InlineData("GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 without Host")]
    [InlineData("POST / HTTP/1.0\r\nHost: a.test\r\n\r\n", "HTTP/1.0 POST without Content-Length (Kestrel's 400)")]
    [InlineData("PUT /x HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n", "HTTP/1.0 PUT without Content-Length")]
    [InlineData("GET / HTTP/1.2\r\nHost: a.test\r\n\r\n", "HTTP/1.2")]
    [InlineData("GET / HTTP/0.9\r\nHost: a.test\r\n\r\n", "HTTP/0.9")]
    [InlineData("GET / http/1.0\r\nHost: a.test\r\n\r\n", "lower-case version")]
    [InlineData("GET / HTTP/1.00\r\nHost: a.test\r\n\r\n", "a longer version")]
    [InlineData("GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n", "two spaces")]
    [InlineData("get / HTTP/1.1\r\nHost: a.test\r\n\r\n", "lower-case method")]
    [InlineData("GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", "absolute form")]
    [InlineData("OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n", "asterisk form")]
    [InlineData("CONNECT a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n", "authority form")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/2 preface")]
    [InlineData("GET /a%2fb HTTP/1.1\r\nHost: a.test\r\n\r\n", "percent-encoding in the path")]
    [InlineData("GET /a/../b HTTP/1.1\r\nHost: a.test\r\n\r\n", "dot-dot segment")]
    [InlineData("GET /a/. HTTP/1.1\r\nHost: a.test\r\n\r\n", "dot segment at the end")]
    [InlineData("GET /a#b HTTP/1.1\r\nHost: a.test\r\n\r\n", "fragment")]
    [InlineData("GET /\u00e9 HTTP/1.1\r\nHost: a.test\r\n\r\n", "non-ASCII target")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "no Host")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", "two Hosts")]
    [InlineData("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "IPv6 literal host")]
    [InlineData("GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n", "user info in Host")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test:\r\n\r\n", "empty port")]
    [InlineData("GET / HTTP/1.1\r\nHost:\r\n\r\n", "empty Host")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "two equal Content-Lengths")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "two Content-Lengths")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3, 3\r\n\r\nabc", "a Content-Length list")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: +3\r\n\r\nabc", "a signed Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: -1\r\n\r\n", "a negative Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1 2\r\n\r\nabcdefghijkl", "a space inside the Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0x3\r\n\r\nabc", "a hexadecimal Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length:\r\n\r\n", "an empty Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1234567890123456\r\n\r\n", "a Content-Length of 16 digits")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 99999999999999999999\r\n\r\n", "a Content-Length past any integer")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Content-Length and Transfer-Encoding")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "Transfer-Encoding and Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "another coding")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "two Transfer-Encodings")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\n", "an expectation other than 100-continue")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", "two Expect fields")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n", "100-continue with a chunked body")]
    [InlineData("POST / HTTP/1.0\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", "100-continue under HTTP/1.0")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "upgrade")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, TE\r\n\r\n", "a Connection option beyond keep-alive and close")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX-Thing : 1\r\n\r\n", "space before the colon")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX-Folded: a\r\n b\r\n\r\n", "obs-fold")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX-Thing(: 1\r\n\r\n", "separator in a name")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\n: 1\r\n\r\n", "empty name")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX: a\u000bb\r\n\r\n", "control character in a value")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX: a\rb\r\n\r\n", "CR in a value")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX: a\u007fb\r\n\r\n", "DEL in a value")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX: caf\u00e9\r\n\r\n", "obs-text in a value")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX: a\r\r\n", "a bare CR in a head not yet ended")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\nX: a", "a bare LF in a head not yet ended")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\n:a\r\n", "a field without a name, the head not yet ended")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nX: a\u0001\r\nY: ", "a control character, the head not yet ended")]
    [InlineData("get / HTTP/1.1\r\nHost: a.te", "a request line not read, the head not yet ended")]
    public void NotPlain_IsUnsupported(string raw, string what) =>
        Assert.True(Parse(raw, out _) == HeadParseResult.Unsupported, what);

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 0)]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n", 0)]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0012\r\n\r\n", 12)]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nCONTENT-LENGTH:  65536 \r\n\r\n", 65536)]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 65537\r\n\r\n", 65537)]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 999999999999999\r\n\r\n", 999_999_999_999_999)]
    public void ContentLength_IsTheBodysLength_TheBodyNeedNotHaveArrived(string raw, long length)
    {
        Assert.Equal(HeadParseResult.Complete, Parse(raw, out var head));
        Assert.Equal(length, head.ContentLength);
        Assert.Equal(raw.Length, head.Length);
    }

    [Theory]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: a.test\r\ntransfer-encoding:  Chunked \r\n\r\n")]
    public void ChunkedAlone_IsTheFronts_WithoutALength(string raw)
    {
        Assert.Equal(HeadParseResult.Complete, Parse(raw, out var head));
        Assert.True(head.Chunked);
        Assert.Equal(0, head.ContentLength);
    }

    [Fact]
    public void RepeatedFields_KeepChunked_AFreshParseWithoutItIsNotChunked()
    {
        var head = new RequestHead();
        const string Fields = "Host: a.test\r\nTransfer-Encoding: chunked\r\n\r\n";
        Assert.Equal(HeadParseResult.Complete, Parse(head, "POST /a HTTP/1.1\r\n" + Fields));
        Assert.Equal(HeadParseResult.Complete, Parse(head, "PUT /other HTTP/1.1\r\n" + Fields));
        Assert.True(head.FieldsRepeated);
        Assert.True(head.Chunked);

        Assert.Equal(HeadParseResult.Complete, Parse(head, "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\n"));
        Assert.False(head.Chunked);
    }

    [Fact]
    public void RepeatedFields_KeepTheirContentLength_AFreshParseWithoutOneHasNone()
    {
        var head = new RequestHead();
        const string Fields = "Host: a.test\r\nContent-Length: 7\r\n\r\n";
        Assert.Equal(HeadParseResult.Complete, Parse(head, "POST /a HTTP/1.1\r\n" + Fields));
        Assert.Equal(HeadParseResult.Complete, Parse(head, "PUT /other HTTP/1.1\r\n" + Fields));
        Assert.True(head.FieldsRepeated);
        Assert.Equal(7, head.ContentLength);

        Assert.Equal(HeadParseResult.Complete, Parse(head, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"));
        Assert.False(head.FieldsRepeated);
        Assert.Equal(0, head.ContentLength);
    }

    [Theory]
    [InlineData("")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.te")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a.test\r\n\r")]
    public void Partial_IsIncomplete(string raw) => Assert.Equal(HeadParseResult.Incomplete, Parse(raw, out _));

    [Fact]
    public void HeadLongerThanTheLimit_IsUnsupported_CompleteOrNot()
    {
        var big = "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + new string('a', Limit) + "\r\n\r\n";
        Assert.Equal(HeadParseResult.Unsupported, Parse(big, out _));
        Assert.Equal(HeadParseResult.Unsupported, Parse(big[..(Limit + 10)], out _));
    }

    [Fact]
    public void MoreFieldsThanKestrelAllows_IsUnsupported()
    {
        var fields = string.Concat(Enumerable.Range(0, RequestHead.MaxFields).Select(i => $"X-{i}: {i}\r\n"));
        Assert.Equal(HeadParseResult.Unsupported, Parse($"GET / HTTP/1.1\r\nHost: a.test\r\n{fields}\r\n", out _));
    }

    [Fact]
    public void Complete_RangesPointAtTheParts()
    {
        const string raw = "GET /p/q?x=1 HTTP/1.1\r\nHost: a.test\r\nX-Two:  v 2 \r\nConnection: close\r\n\r\nGET / HTTP/1.1";
        Assert.Equal(HeadParseResult.Complete, Parse(raw, out var head));
        Assert.Equal(3, head.MethodLength);
        Assert.Equal("/p/q?x=1", raw.Substring(head.TargetStart, head.TargetLength));
        Assert.Equal("/p/q", raw.Substring(head.TargetStart, head.PathLength));
        Assert.Equal(raw.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4, head.Length);
        Assert.Equal(3, head.FieldCount);
        var two = head.Fields[1];
        Assert.Equal("X-Two", raw.Substring(two.NameStart, two.NameLength));
        Assert.Equal("v 2", raw.Substring(two.ValueStart, two.ValueLength));
        Assert.True(head.ConnectionClose);
    }

    [Fact]
    public void RepeatedFields_AfterOtherRequestLines_AreTheSameFieldsWhereTheyNowLie()
    {
        const string Fields = "Host: a.test\r\nUser-Agent:  ua/1 \r\nCookie: a=1; b=2\r\nConnection: close\r\n\r\n";
        var head = new RequestHead();
        Assert.Equal(HeadParseResult.Complete, Parse(head, "GET / HTTP/1.1\r\n" + Fields));
        Assert.False(head.FieldsRepeated);

        // Longer, then shorter request lines: the ranges move with them.
        foreach (var line in new[] { "HEAD /a/much/longer/path?with=query HTTP/1.1\r\n", "GET /b HTTP/1.1\r\n" })
        {
            var raw = line + Fields;
            Assert.Equal(HeadParseResult.Complete, Parse(head, raw));
            Assert.True(head.FieldsRepeated, line);
            Assert.Equal(raw.Length, head.Length);
            Assert.True(head.ConnectionClose);
            Assert.Equal(["Host=a.test", "User-Agent=ua/1", "Cookie=a=1; b=2", "Connection=close"], FieldsOf(raw, head));
        }
    }

    [Fact]
    public void FieldsThatDifferInOneByte_AreParsedAfresh()
    {
        var head = new RequestHead();
        Assert.Equal(HeadParseResult.Complete, Parse(head, "GET / HTTP/1.1\r\nHost: a.test\r\nX-V: 1\r\nConnection: close\r\n\r\n"));

        const string Other = "GET / HTTP/1.1\r\nHost: a.test\r\nX-V: 2\r\nConnection: close\r\n\r\n";
        Assert.Equal(HeadParseResult.Complete, Parse(head, Other));
        Assert.False(head.FieldsRepeated);
        Assert.Equal(["Host=a.test", "X-V=2", "Connection=close"], FieldsOf(Other, head));

        const string NoClose = "GET / HTTP/1.1\r\nHost: a.test\r\nX-V: 2\r\n\r\n";
        Assert.Equal(HeadParseResult.Complete, Parse(head, NoClose));
        Assert.False(head.FieldsRepeated);
        Assert.False(head.ConnectionClose);
        Assert.Equal(["Host=a.test", "X-V=2"], FieldsOf(NoClose, head));
    }

    [Fact]
    public void AfterAHeadLeftToKestrel_TheFieldsAreParsedAfresh()
    {
        const string Plain = "GET / HTTP/1.1\r\nHost: a.test\r\nX-V: 1\r\n\r\n";
        var head = new RequestHead();
        Assert.Equal(HeadParseResult.Complete, Parse(head, Plain));

        // Its parse stopped at Expect, with the ranges half rewritten: the block kept before is no longer theirs.
        Assert.Equal(HeadParseResult.Unsupported, Parse(head, "GET / HTTP/1.1\r\nHost: a.test\r\nExpect: other\r\n\r\n"));

        Assert.Equal(HeadParseResult.Complete, Parse(head, Plain));
        Assert.False(head.FieldsRepeated);
        Assert.Equal(["Host=a.test", "X-V=1"], FieldsOf(Plain, head));
    }

    [Fact]
    public void FieldsLongerThanWhatIsKept_AreParsedEveryTime()
    {
        var raw = "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + new string('a', RequestHead.MaxRepeatedFieldBytes) + "\r\n\r\n";
        var head = new RequestHead();
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HeadParseResult.Complete, Parse(head, raw));
            Assert.False(head.FieldsRepeated);
            Assert.Equal(2, head.FieldCount);
        }
    }

    private static HeadParseResult Parse(RequestHead head, string raw) => RequestHeadParser.TryParse(Encoding.Latin1.GetBytes(raw), head, Limit);

    private static string[] FieldsOf(string raw, RequestHead head) =>
        [.. head.Fields.Take(head.FieldCount).Select(f => $"{raw.AsSpan(f.NameStart, f.NameLength)}={raw.AsSpan(f.ValueStart, f.ValueLength)}")];

    private static HeadParseResult Parse(string raw, out RequestHead head)
    {
        head = new RequestHead();
        return RequestHeadParser.TryParse(Encoding.Latin1.GetBytes(raw), head, Limit);
    }
}
