using AseGateway.Waf.Crs;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>Transformations and operators on byte strings, with ModSecurity's results for the same input.</summary>
public sealed class CrsTransformsTests
{
    [Theory]
    [InlineData("urlDecodeUni", "a%20b+c%u0041%uff21%zz", "a b cAA%zz")]
    [InlineData("urlDecode", "%3Cscript%3E", "<script>")]
    [InlineData("htmlEntityDecode", "&lt;a&#x41;&#66;&quot&amp;", "<aAB\"&")]
    [InlineData("jsDecode", "\\x3c\\u0041\\101\\n\\q", "<AA\nq")]
    [InlineData("cssDecode", "\\3c \\41x\\\"", "<Ax\"")]
    [InlineData("cmdLine", "C^A\"T  /etc;ls", "cat/etc ls")]
    [InlineData("compressWhitespace", "a \t\n b", "a b")]
    [InlineData("removeWhitespace", " a b\tc ", "abc")]
    [InlineData("replaceComments", "a/*x*/b/*", "a b ")]
    [InlineData("removeCommentsChar", "a/*b*/c--d#", "abcd")]
    [InlineData("normalizePath", "/a/./b/../../c//d/", "/c/d/")]
    [InlineData("normalizePathWin", "a\\..\\..\\b", "../b")]
    [InlineData("utf8toUnicode", "\u00c3\u00a9", "%u00e9")]
    [InlineData("base64Decode", "YWJj", "abc")]
    [InlineData("hexEncode", "AB", "4142")]
    [InlineData("length", "abcd", "4")]
    [InlineData("lowercase", "ÀBC", "Àbc")]
    public void Transform_MatchesModSecurity(string name, string input, string expected)
    {
        Assert.True(CrsTransforms.TryGet(name, out var transform));
        Assert.Equal(expected, transform(input));
    }

    [Theory]
    [InlineData("@rx ^a+$", "aaa", true)]
    [InlineData("@rx (?i)[[:alpha:]]++z", "ABz", true)]
    [InlineData("!@rx ^a", "b", true)]
    [InlineData("@pm foo bar", "xxBARxx", true)]
    [InlineData("@pm foo bar", "baz", false)]
    [InlineData("@within GET POST", "POST", true)]
    [InlineData("@containsWord select", "a select b", true)]
    [InlineData("@containsWord select", "selected", false)]
    [InlineData("@gt 3", "10abc", true)]
    [InlineData("@eq 0", "", true)]
    [InlineData("@validateByteRange 32-126", "ok\u0001", true)]
    [InlineData("@validateUrlEncoding", "%zz", true)]
    [InlineData("@validateUtf8Encoding", "\u00c3\u00a9", false)]
    [InlineData("@validateUtf8Encoding", "\u00c0\u00af", true)]
    [InlineData("@ipMatch 10.0.0.0/8,127.0.0.1", "10.1.2.3", true)]
    public void Operator_MatchesModSecurity(string op, string value, bool expected)
    {
        var compiled = CrsOperator.Compile(op, new CrsLoadContext(AppContext.BaseDirectory), "test.conf:1");
        Assert.Equal(expected, compiled.IsMatch(null!, value, capture: false));
    }
}
