using System.Text.RegularExpressions;
using AseGateway.Waf.Crs;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>The @rx prefilter: which characters it requires, and that it never rules out a value the regex matches.</summary>
public sealed class CrsRegexPrefilterTests
{
    [Theory]
    [InlineData("<script", "<")]
    [InlineData("(?i)on(?:load|error)=", "=")]
    [InlineData("a;|b'", ";'")]
    [InlineData("(?i)x", "Xx")]
    [InlineData("[<>]+\\(", "(")]
    [InlineData("\\x5c\\x27", "\\")]
    public void RequiredChars_OfPattern_AreTheMostSelectiveRequiredSet(string pattern, string expected)
    {
        var required = CrsRegexPrefilter.RequiredChars(pattern);
        Assert.NotNull(required);
        for (var c = 0; c < 256; c++)
        {
            Assert.Equal(expected.Contains((char)c), required.Contains((char)c));
        }
    }

    [Theory]
    [InlineData("a?")]
    [InlineData("a|b*")]
    [InlineData("^")]
    [InlineData("(?=<)")]
    [InlineData("[^<]")]
    [InlineData("(?x) a")]
    [InlineData("(a?)\\1")]
    [InlineData("(?(a)b|c)")]
    public void RequiredChars_WhenNothingIsProvablyRequired_IsNull(string pattern) => Assert.Null(CrsRegexPrefilter.RequiredChars(pattern));

    [Theory]
    [InlineData("(?i)<script\\b", "<SCRIPT>")]
    [InlineData("(?i)\\bunion\\b.{1,100}?\\bselect\\b", "1 UNION ALL SELECT x")]
    [InlineData("(?:\\$|`)\\(", "$(id)")]
    [InlineData("[\\x00-\\x08]", "a\u0001")]
    [InlineData("(?i:K)", "\u212a")]
    [InlineData("é", "\u00e9")]
    [InlineData("\\u0130", "x\u0130")]
    public void ProvesNoMatch_ForAValueTheRegexMatches_IsFalse(string pattern, string value)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Singleline);
        Assert.Matches(regex, value);
        if (CrsRegexPrefilter.RequiredChars(pattern) is { } required)
        {
            Assert.False(CrsRegexPrefilter.ProvesNoMatch(required, value));
        }
    }

    [Fact]
    public void ProvesNoMatch_ForABenignValue_IsTrue()
    {
        var required = CrsRegexPrefilter.RequiredChars("(?i)<script[^>]*>");
        Assert.NotNull(required);
        Assert.True(CrsRegexPrefilter.ProvesNoMatch(required, "Trail running shoe model 1"));
    }
}
