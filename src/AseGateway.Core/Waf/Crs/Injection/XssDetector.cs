using System.Buffers;
using System.Collections.Frozen;

namespace AseGateway.Waf.Crs.Injection;

/// <summary>
/// The <c>@detectXSS</c> operator: says whether a value, written into an HTML page, could run script.
/// <para>
/// The value is read by <see cref="HtmlScanner"/>, an HTML5 tokenizer state machine, from each place a page could put
/// it: in text (the data state), inside an unquoted attribute value, and inside a single-, double- or back-quoted
/// attribute value (where its own quote ends the value and what follows is parsed as more attributes). A reading is
/// an attack when it opens or closes a tag that runs or loads active content (script, iframe, object, svg…), gives a
/// value to an event handler (<c>on*=</c>), a <c>style</c> or <c>srcdoc</c> attribute, puts a <c>javascript:</c>,
/// <c>vbscript:</c> or <c>data:</c> URL in an attribute that browsers load or navigate to, or writes an Internet
/// Explorer conditional comment or a back-quote inside a comment.
/// </para>
/// No allocation; at most five linear passes, and the passes that cannot differ from plain text are skipped.
/// </summary>
internal static class XssDetector
{
    private static readonly SearchValues<char> QuoteOrSpaceOrTagEnd = SearchValues.Create("\"'` \t\n\f\r>");

    public static bool IsXss(ReadOnlySpan<char> input)
    {
        if (input.IsEmpty)
        {
            return false;
        }

        if (input.Contains('<') && HtmlScanner.IsDangerous(input, HtmlScanner.Start.Data))
        {
            return true;
        }

        // Inside an attribute value the value ends at its quote (or, unquoted, at a space or '>'); without one the
        // whole input stays a value of an unknown attribute and cannot do harm.
        if (input.IndexOfAny(QuoteOrSpaceOrTagEnd) < 0)
        {
            return false;
        }

        return HtmlScanner.IsDangerous(input, HtmlScanner.Start.UnquotedValue)
            || (input.Contains('"') && HtmlScanner.IsDangerous(input, HtmlScanner.Start.DoubleQuotedValue))
            || (input.Contains('\'') && HtmlScanner.IsDangerous(input, HtmlScanner.Start.SingleQuotedValue))
            || (input.Contains('`') && HtmlScanner.IsDangerous(input, HtmlScanner.Start.BackQuotedValue));
    }
}

/// <summary>What makes a tag, an attribute or a URL dangerous. Lookups take spans and ignore case.</summary>
internal static class XssVocabulary
{
    /// <summary>Tags that run script, load a document or plug-in, restyle the page or change where URLs point.</summary>
    private static readonly FrozenSet<string> Tags = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "link", "meta", "style", "svg",
        "xml", "import", "layer", "ilayer", "bgsound", "vmlframe", "isindex", "portal");

    /// <summary>Attributes whose value is a URL that the browser loads or navigates to.</summary>
    private static readonly FrozenSet<string> UrlAttributes = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "href", "src", "action", "formaction", "data", "background", "lowsrc", "dynsrc", "poster", "codebase", "cite",
        "longdesc", "usemap", "profile", "classid", "archive", "xlink:href", "xmlns", "from", "to", "values", "by",
        "srcset", "ping", "manifest", "icon", "content", "folder", "datasrc");

    /// <summary>Attributes that are code or markup whatever their value.</summary>
    private static readonly FrozenSet<string> CodeAttributes = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "style", "srcdoc", "xmlns:xlink", "attributename");

    /// <summary>URL schemes that run script or smuggle a document.</summary>
    private static readonly string[] Schemes = ["javascript", "vbscript", "livescript", "mocha", "data", "view-source"];

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> TagLookup = Tags.GetAlternateLookup<ReadOnlySpan<char>>();
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> UrlAttributeLookup = UrlAttributes.GetAlternateLookup<ReadOnlySpan<char>>();
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> CodeAttributeLookup = CodeAttributes.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>A namespaced name (x:script) counts by its local part, as XHTML and SVG documents read it.</summary>
    public static bool IsDangerousTag(ReadOnlySpan<char> name) => TagLookup.Contains(name) || TagLookup.Contains(LocalName(name));

    /// <summary>An attribute that is dangerous as soon as it has a value: event handlers and code attributes.</summary>
    public static bool IsCodeAttribute(ReadOnlySpan<char> name)
    {
        // on + at least one more letter: every event handler, including ones browsers add later.
        if (name.Length > 2 && (name[0] | 0x20) == 'o' && (name[1] | 0x20) == 'n' && char.IsAsciiLetter(name[2]))
        {
            return true;
        }

        return CodeAttributeLookup.Contains(name);
    }

    public static bool IsUrlAttribute(ReadOnlySpan<char> name) => UrlAttributeLookup.Contains(name) || UrlAttributeLookup.Contains(LocalName(name));

    /// <summary>
    /// True when a URL starts with a script scheme. Browsers skip leading spaces and controls and remove tabs and
    /// newlines anywhere in a URL, so "  java&#9;script:" still runs; the comparison does the same.
    /// </summary>
    public static bool HasScriptScheme(ReadOnlySpan<char> url)
    {
        var start = 0;
        while (start < url.Length && url[start] <= ' ')
        {
            start++;
        }

        foreach (var scheme in Schemes)
        {
            var i = start;
            var matched = 0;
            while (i < url.Length && matched < scheme.Length)
            {
                var c = url[i++];
                if (c is '\t' or '\n' or '\r')
                {
                    continue;
                }

                if ((c | 0x20) != scheme[matched] && c != scheme[matched])
                {
                    break;
                }

                matched++;
            }

            while (i < url.Length && url[i] is '\t' or '\n' or '\r')
            {
                i++;
            }

            if (matched == scheme.Length && i < url.Length && url[i] == ':')
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An IE conditional comment (&lt;!--[if …]&gt;) or a back-quote, which old IE treats as a quote.</summary>
    public static bool IsDangerousComment(ReadOnlySpan<char> comment) =>
        comment.Contains('`') || comment.Contains("[if", StringComparison.OrdinalIgnoreCase)
        || comment.Contains("<![endif", StringComparison.OrdinalIgnoreCase);

    private static ReadOnlySpan<char> LocalName(ReadOnlySpan<char> name)
    {
        var colon = name.LastIndexOf(':');
        return colon < 0 ? [] : name[(colon + 1)..];
    }
}
