using AseGateway.Waf.Crs.Injection;

namespace AseGateway.Tests.Waf.Crs.Injection;

public sealed class SqlInjectionDetectorTests
{
    [Theory]
    [InlineData("1234 OR 1=1")]
    [InlineData("1 AND 1=1")]
    [InlineData("-1 or -1=-1")]
    [InlineData("' or '1'='1")]
    [InlineData("' OR 1=1 --")]
    [InlineData("x' or 'a'='a")]
    [InlineData("admin'--")]
    [InlineData("admin' #")]
    [InlineData("admin'/*")]
    [InlineData("\" or \"\"=\"")]
    [InlineData("1; DROP TABLE users")]
    [InlineData("'; DROP TABLE users; --")]
    [InlineData("1 UNION SELECT username, password FROM users")]
    [InlineData("1 UNION ALL SELECT NULL,NULL--")]
    [InlineData("' UNION SELECT NULL--")]
    [InlineData("') UNION ALL select NULL --")]
    [InlineData("1' AND SLEEP(5)#")]
    [InlineData("1 or sleep(5)")]
    [InlineData("1' WAITFOR DELAY '0:0:5'--")]
    [InlineData("1; WAITFOR DELAY '0:0:5'")]
    [InlineData("'; EXEC xp_cmdshell('dir')--")]
    [InlineData("1' ORDER BY 3--")]
    [InlineData("1 order by 1")]
    [InlineData("x' AND extractvalue(1,concat(0x7e,version()))--")]
    [InlineData("1/**/UNION/**/SELECT/**/1,2")]
    [InlineData("1/*!50000UNION*/SELECT 1,2")]
    [InlineData("1) or (1=1")]
    [InlineData("')) or (('a'='a")]
    [InlineData("' + sleep(5) + '")]
    [InlineData("'||(select 1 from dual)||'")]
    [InlineData("sleep(20)")]
    [InlineData("select * from users")]
    [InlineData("union select 1,2,3")]
    [InlineData("1 AND (SELECT 1 FROM (SELECT SLEEP(5))a)")]
    [InlineData("ascii(substring(version(),1,1))")]
    [InlineData("1' and 1=1 and '1'='1")]
    [InlineData("@@version or 1=1")]
    [InlineData("exec xp_cmdshell 'dir'")]
    [InlineData("admin@example.com';")]
    [InlineData("x'|email--")]
    [InlineData("(load_file('/etc/passwd'))")]
    [InlineData("mod(1,2);insert into t values (3)")]
    [InlineData(";drop table users")]
    [InlineData("and 2771=1709")]
    public void IsSqlInjection_Attack_Detected(string input)
    {
        var detected = SqlInjectionDetector.IsSqlInjection(input, out var fingerprint);

        Assert.True(detected, $"'{input}' was not detected; readings: {Readings(input)}");
        Assert.InRange(fingerprint.Length, 2, 5);
    }

    [Theory]
    [InlineData("O'Brien")]
    [InlineData("Miles O'Brien-Smith")]
    [InlineData("John O'Reilly and Sons")]
    [InlineData("Please select one or more options from the list")]
    [InlineData("select an option")]
    [InlineData("Select the size, or leave it empty")]
    [InlineData("you can drop or create your own")]
    [InlineData("Tom's and Jerry's")]
    [InlineData("the students' or teachers' books")]
    [InlineData("rock 'n' roll")]
    [InlineData("It's 5 o'clock somewhere; union rules apply")]
    [InlineData("I'd like to order by phone")]
    [InlineData("\"quoted\" text and \"more\" text")]
    [InlineData("{\"user\":\"bob\",\"roles\":[\"admin\",\"dev\"],\"n\":1}")]
    [InlineData("{\"select\":\"or\",\"from\":\"where\"}")]
    [InlineData("[1,2,3]")]
    [InlineData("https://example.com/path/to/page?query=1&sort=desc#top")]
    [InlineData("/api/products?category=shoes&page=2&sort=price")]
    [InlineData("alice@example.com")]
    [InlineData("john.o'reilly@example.co.uk")]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")]
    [InlineData("2024-01-31")]
    [InlineData("1.5")]
    [InlineData("-42")]
    [InlineData("C# and F# -- both are fine")]
    [InlineData("100% sure")]
    [InlineData("a=1; b=2")]
    [InlineData("5 or 6 people")]
    [InlineData("true or false")]
    [InlineData("Looks good, ship it")]
    [InlineData("Delete (Trashcan)")]
    [InlineData("'a'.'b'.'c'")]
    [InlineData("Update (v2): fixed")]
    [InlineData("  \"name\": \"contoso-ase\",")]
    [InlineData("\"httpsOnly\": false, \"wafPolicy\": \"default\",")]
    [InlineData("Press '+' to add a row")]
    [InlineData("use '*' or '+' keys")]
    [InlineData("can be found in \"/usr/share/common-licenses/GPL-2\".")]
    [InlineData("d/rules: Drop '--with autoreconf'")]
    [InlineData("do not accept '#' as part of the URI")]
    [InlineData("Cherry-pick the 'is not' fix from upstream")]
    [InlineData("\"You\" and \"your\" means any person")]
    [InlineData("\"FreeType Project\", \"FreeType Engine\", \"FreeType library\",")]
    [InlineData("")]
    public void IsSqlInjection_Benign_NotDetected(string input)
    {
        var detected = SqlInjectionDetector.IsSqlInjection(input, out var fingerprint);

        Assert.False(detected, $"'{input}' was flagged as '{fingerprint}'; readings: {Readings(input)}");
        Assert.Equal(string.Empty, fingerprint);
    }

    [Fact]
    public void Fingerprint_TautologyInSingleQuoteContext_IsStringLogicStringComparisonString()
    {
        Span<char> buffer = stackalloc char[5];

        var length = SqlInjectionDetector.Fingerprint("x' or 'a'='a", '\'', mySql: false, buffer);

        Assert.Equal("s&s=s", buffer[..length].ToString());
    }

    [Fact]
    public void Fingerprint_UnionAllAndOrderBy_FoldIntoOneTokenEach()
    {
        Span<char> buffer = stackalloc char[5];

        var length = SqlInjectionDetector.Fingerprint("1 union all select 1 order by 2", '\0', mySql: false, buffer);

        Assert.Equal("1UE1B", buffer[..length].ToString());
    }

    [Fact]
    public void Fingerprint_CommentsBetweenTokens_AreDroppedButAFinalCommentIsKept()
    {
        Span<char> buffer = stackalloc char[5];

        Assert.Equal("1&1=1", buffer[..SqlInjectionDetector.Fingerprint("1/**/or/**/1=1", '\0', mySql: false, buffer)].ToString());
        Assert.Equal("sc", buffer[..SqlInjectionDetector.Fingerprint("admin'--", '\'', mySql: false, buffer)].ToString());
    }

    [Theory]
    // libinjection's "evil" token: a block comment opening another (942101's path /post/%2A/%2A/2+union+all/bar).
    [InlineData("/post/*/*/2 union all/bar")]
    [InlineData("1 /* a /* b */")]
    [InlineData("hello /*/*/ x")]
    public void IsSqlInjection_NestedBlockComment_IsUnparsableAndDetected(string input)
    {
        Assert.True(SqlInjectionDetector.IsSqlInjection(input, out var fingerprint));
        Assert.Equal("X", fingerprint);
    }

    [Fact]
    public void IsSqlInjection_NestedBlockCommentAfterTheFifthToken_IsNotSeen()
    {
        // As libinjection: only the first five folded tokens are read.
        Assert.False(SqlInjectionDetector.IsSqlInjection("a b c d e f /*/*/", out _));
    }

    [Fact]
    public void IsSqlInjection_SameShapeTwice_ReturnsTheSameFingerprintInstance()
    {
        Assert.True(SqlInjectionDetector.IsSqlInjection("1 or 1=1", out var first));
        Assert.True(SqlInjectionDetector.IsSqlInjection("2 or 2=2", out var second));

        Assert.Same(first, second);
    }

    [Fact]
    public void IsSqlInjection_LongBenignInput_FinishesAndIsNotDetected()
    {
        var input = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog, or so they say. ", 2000));

        Assert.False(SqlInjectionDetector.IsSqlInjection(input, out _));
    }

    [Fact]
    public void Fingerprints_EveryPatternExpands_IntoFingerprintsOfTheAlphabet()
    {
        foreach (var pattern in SqlFingerprints.Patterns)
        {
            Assert.NotEmpty(SqlFingerprints.Expand(pattern.TrimEnd('*')));
        }

        Assert.InRange(SqlFingerprints.Count, SqlFingerprints.Patterns.Length, 10_000);
    }

    private static string Readings(string input)
    {
        Span<char> buffer = stackalloc char[5];
        var asIs = buffer[..SqlInjectionDetector.Fingerprint(input, '\0', mySql: false, buffer)].ToString();
        var asIsMySql = buffer[..SqlInjectionDetector.Fingerprint(input, '\0', mySql: true, buffer)].ToString();
        var single = buffer[..SqlInjectionDetector.Fingerprint(input, '\'', mySql: false, buffer)].ToString();
        var singleMySql = buffer[..SqlInjectionDetector.Fingerprint(input, '\'', mySql: true, buffer)].ToString();
        var dbl = buffer[..SqlInjectionDetector.Fingerprint(input, '"', mySql: true, buffer)].ToString();
        return $"as-is '{asIs}', as-is mysql '{asIsMySql}', single '{single}', single mysql '{singleMySql}', double '{dbl}'";
    }
}
