using System.Text.RegularExpressions;
using AseGateway.Waf.Crs;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>PCRE patterns as CRS writes them keep PCRE's meaning once translated for .NET.</summary>
public sealed class PcreToDotNetTests
{
    [Theory]
    // An escaped hyphen starts or ends a range in PCRE (CRS 932230's [\"'-\+\--9\?A-\]_a-z\|]+/ takes '/' from \--9).
    [InlineData(@"^[\--9]+$", "/5-9", true)]
    [InlineData(@"^[!-\-]$", ",", true)]
    [InlineData(@"^[a\-z]$", "-", true)]
    [InlineData(@"^[a\-z]$", "b", false)]
    // Outside a class an escaped hyphen is a literal hyphen.
    [InlineData(@"^a\-b$", "a-b", true)]
    [InlineData(@"^[[:alpha:]]+$", "abc", true)]
    [InlineData(@"^a++b$", "aab", true)]
    [InlineData(@"^\x{41}$", "A", true)]
    public void Translate_CrsPatterns_MatchAsPcreDoes(string pcre, string input, bool expected)
    {
        var regex = new Regex(PcreToDotNet.Translate(pcre), RegexOptions.CultureInvariant);

        Assert.Equal(expected, regex.IsMatch(input));
    }
}
