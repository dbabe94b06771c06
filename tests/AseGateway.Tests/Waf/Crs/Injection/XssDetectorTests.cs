using AseGateway.Waf.Crs.Injection;

namespace AseGateway.Tests.Waf.Crs.Injection;

public sealed class XssDetectorTests
{
    [Theory]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("<SCRIPT SRC=//evil.example/x.js></SCRIPT>")]
    [InlineData("www.github.com<script><img><iframe>")]
    [InlineData("<script")]
    [InlineData("</script><b>")]
    [InlineData("<img src=x onerror=alert(1)>")]
    [InlineData("<img src=x ONERROR = alert(1)>")]
    [InlineData("<svg/onload=alert()>")]
    [InlineData("/index.php/<svg/onload=alert()")]
    [InlineData("<body onload=alert(1)>")]
    [InlineData("<xss onbeforehellfreezes=alerw(1)>")]
    [InlineData("<details open ontoggle=alert(1)>")]
    [InlineData("<a href=\"javascript:alert(1)\">x</a>")]
    [InlineData("<a href=' java\tscript:alert(1)'>x</a>")]
    [InlineData("<a href=JaVaScRiPt:alert(1)>x</a>")]
    [InlineData("<form><button formaction=javascript:alert(1)>x</button></form>")]
    [InlineData("<object data=\"data:text/html;base64,PHNjcmlwdD4=\">")]
    [InlineData("<iframe src=\"https://evil.example\"></iframe>")]
    [InlineData("<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\" src=\"data:,alert(1)\" />")]
    [InlineData("<div style=\"background:url(javascript:alert(1))\">")]
    [InlineData("<iframe srcdoc=\"&lt;script&gt;\">")]
    [InlineData("<!--[if gte IE 4]><script>alert(1)</script><![endif]-->")]
    [InlineData("\"onmouseover='prompt(document.cookie)'\"")]
    [InlineData("/get/\"onmouseover='prompt(document.cookie)'\"")]
    [InlineData("x' onfocus='alert(1)' autofocus='")]
    [InlineData("x onmouseover=alert(1)")]
    [InlineData("\"><img src=x onerror=alert(1)>")]
    [InlineData("<meta http-equiv=refresh content=0;url=javascript:alert(1)>")]
    [InlineData("<base href=//evil.example/>")]
    [InlineData("<embed src=x.swf>")]
    public void IsXss_Attack_Detected(string input)
    {
        Assert.True(XssDetector.IsXss(input), input);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello world")]
    [InlineData("O'Brien")]
    [InlineData("a < b and c > d")]
    [InlineData("5<6 and 7>3")]
    [InlineData("I <3 you")]
    [InlineData("<b>bold</b> and <i>italic</i>")]
    [InlineData("<p class=\"note\">See <a href=\"https://example.com/docs\">the docs</a>.</p>")]
    [InlineData("<a href='/relative/path?x=1&y=2'>link</a>")]
    [InlineData("<img src=\"/images/cat.png\" alt=\"A cat\">")]
    [InlineData("Contact: <alice@example.com>")]
    [InlineData("She said \"only once\" and left")]
    [InlineData("turn it on=off")]
    [InlineData("{\"onload\":\"x\",\"online\":true}")]
    [InlineData("https://example.com/?javascript=1&data=2")]
    [InlineData("javascript: the good parts")]
    [InlineData("alice@example.com")]
    [InlineData("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")]
    [InlineData("<!-- a plain comment -->")]
    [InlineData("x=1&y=2&onboarding=true")]
    public void IsXss_Benign_NotDetected(string input)
    {
        Assert.False(XssDetector.IsXss(input), input);
    }

    [Fact]
    public void IsXss_LongBenignInput_FinishesAndIsNotDetected()
    {
        var input = string.Concat(Enumerable.Repeat("Fish < chips > peas; \"quoted\" 'single' `back` text. ", 2000));

        Assert.False(XssDetector.IsXss(input));
    }
}
