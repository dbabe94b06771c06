using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace AseGateway.Waf.Crs;

/// <summary>The variables (collections) CRS inspects; each target of a rule names one.</summary>
internal enum CrsVariable
{
    Args,
    ArgsGet,
    ArgsPost,
    ArgsNames,
    ArgsGetNames,
    ArgsPostNames,
    ArgsCombinedSize,
    RequestHeaders,
    RequestHeadersNames,
    RequestCookies,
    RequestCookiesNames,
    RequestUri,
    RequestUriRaw,
    RequestFilename,
    RequestBasename,
    RequestLine,
    RequestMethod,
    RequestProtocol,
    QueryString,
    RequestBody,
    RequestBodyLength,
    ReqbodyError,
    ReqbodyErrorMsg,
    ReqbodyProcessor,
    Files,
    FilesNames,
    FilesCombinedSize,
    MultipartPartHeaders,
    MultipartStrictError,
    MultipartUnmatchedBoundary,
    MultipartFilename,
    MultipartName,
    Tx,
    MatchedVar,
    MatchedVars,
    MatchedVarName,
    MatchedVarsNames,
    Xml,
    RemoteAddr,
    UniqueId,
    Duration,
    Ip,
    Global,
    Session,

    /// <summary>@geoLookup's results (CRS 3.3's 910100); always empty: the gateway has no GeoIP database.</summary>
    Geo,
    ResponseBody,
    ResponseHeaders,
    ResponseStatus,
    ResponseProtocol,
    ResponseContentType,
    ResponseHeadersNames,
    ResponseContentLength,
    OutboundDataError,
}

/// <summary>A target of a rule as compiled: <c>VAR</c>, <c>VAR:name</c>, <c>VAR:/regex/</c>, <c>!VAR:name</c> or <c>&amp;VAR</c>.</summary>
internal sealed record CrsTarget(CrsVariable Variable, string Name, string? Selector, Regex? SelectorRegex, bool Exclude, bool Count)
{
    public bool SelectsName(string name) =>
        Selector is null || (SelectorRegex is { } regex ? SelectorMatches(regex, name) : string.Equals(name, Selector, StringComparison.OrdinalIgnoreCase));

    /// <summary>The regex timeout is wall-clock time: on a starved machine it can expire on a tiny name. It must not
    /// throw out of the request's evaluation; as for @rx, a timed-out match is no match (an exclusion then does not
    /// apply, so the value is still inspected).</summary>
    private static bool SelectorMatches(Regex regex, string name)
    {
        try
        {
            return regex.IsMatch(name);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>True when this exclusion (<c>!VAR:sel</c>) covers the value <paramref name="name"/> of <paramref name="variable"/>.</summary>
    public bool Excludes(CrsVariable variable, string name) => Exclude && Variable == variable && SelectsName(name);
}

internal static class CrsTargets
{
    private static readonly FrozenDictionary<string, CrsVariable> Names = new Dictionary<string, CrsVariable>(StringComparer.OrdinalIgnoreCase)
    {
        ["ARGS"] = CrsVariable.Args,
        ["ARGS_GET"] = CrsVariable.ArgsGet,
        ["ARGS_POST"] = CrsVariable.ArgsPost,
        ["ARGS_NAMES"] = CrsVariable.ArgsNames,
        ["ARGS_GET_NAMES"] = CrsVariable.ArgsGetNames,
        ["ARGS_POST_NAMES"] = CrsVariable.ArgsPostNames,
        ["ARGS_COMBINED_SIZE"] = CrsVariable.ArgsCombinedSize,
        ["REQUEST_HEADERS"] = CrsVariable.RequestHeaders,
        ["REQUEST_HEADERS_NAMES"] = CrsVariable.RequestHeadersNames,
        ["REQUEST_COOKIES"] = CrsVariable.RequestCookies,
        ["REQUEST_COOKIES_NAMES"] = CrsVariable.RequestCookiesNames,
        ["REQUEST_URI"] = CrsVariable.RequestUri,
        ["REQUEST_URI_RAW"] = CrsVariable.RequestUriRaw,
        ["REQUEST_FILENAME"] = CrsVariable.RequestFilename,
        ["REQUEST_BASENAME"] = CrsVariable.RequestBasename,
        ["REQUEST_LINE"] = CrsVariable.RequestLine,
        ["REQUEST_METHOD"] = CrsVariable.RequestMethod,
        ["REQUEST_PROTOCOL"] = CrsVariable.RequestProtocol,
        ["QUERY_STRING"] = CrsVariable.QueryString,
        ["REQUEST_BODY"] = CrsVariable.RequestBody,
        ["REQUEST_BODY_LENGTH"] = CrsVariable.RequestBodyLength,
        ["REQBODY_ERROR"] = CrsVariable.ReqbodyError,
        ["REQBODY_ERROR_MSG"] = CrsVariable.ReqbodyErrorMsg,
        ["REQBODY_PROCESSOR"] = CrsVariable.ReqbodyProcessor,
        ["FILES"] = CrsVariable.Files,
        ["FILES_NAMES"] = CrsVariable.FilesNames,
        ["FILES_COMBINED_SIZE"] = CrsVariable.FilesCombinedSize,
        ["MULTIPART_PART_HEADERS"] = CrsVariable.MultipartPartHeaders,
        ["MULTIPART_STRICT_ERROR"] = CrsVariable.MultipartStrictError,
        ["MULTIPART_UNMATCHED_BOUNDARY"] = CrsVariable.MultipartUnmatchedBoundary,
        ["MULTIPART_FILENAME"] = CrsVariable.MultipartFilename,
        ["MULTIPART_NAME"] = CrsVariable.MultipartName,
        ["TX"] = CrsVariable.Tx,
        ["MATCHED_VAR"] = CrsVariable.MatchedVar,
        ["MATCHED_VARS"] = CrsVariable.MatchedVars,
        ["MATCHED_VAR_NAME"] = CrsVariable.MatchedVarName,
        ["MATCHED_VARS_NAMES"] = CrsVariable.MatchedVarsNames,
        ["XML"] = CrsVariable.Xml,
        ["REMOTE_ADDR"] = CrsVariable.RemoteAddr,
        ["UNIQUE_ID"] = CrsVariable.UniqueId,
        ["DURATION"] = CrsVariable.Duration,
        ["IP"] = CrsVariable.Ip,
        ["GLOBAL"] = CrsVariable.Global,
        ["SESSION"] = CrsVariable.Session,
        ["GEO"] = CrsVariable.Geo,
        ["RESPONSE_BODY"] = CrsVariable.ResponseBody,
        ["RESPONSE_HEADERS"] = CrsVariable.ResponseHeaders,
        ["RESPONSE_HEADERS_NAMES"] = CrsVariable.ResponseHeadersNames,
        ["RESPONSE_STATUS"] = CrsVariable.ResponseStatus,
        ["RESPONSE_PROTOCOL"] = CrsVariable.ResponseProtocol,
        ["RESPONSE_CONTENT_TYPE"] = CrsVariable.ResponseContentType,
        ["RESPONSE_CONTENT_LENGTH"] = CrsVariable.ResponseContentLength,
        ["OUTBOUND_DATA_ERROR"] = CrsVariable.OutboundDataError,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    public static bool TryGetVariable(string name, out CrsVariable variable) => Names.TryGetValue(name, out variable);

    /// <summary>Parses a rule's target list (<c>ARGS|!ARGS:foo|&amp;TX:x|REQUEST_COOKIES:/^__utm/</c>).</summary>
    public static List<CrsTarget> Parse(string text, string where)
    {
        var targets = new List<CrsTarget>();
        var i = 0;
        while (i < text.Length)
        {
            var exclude = false;
            var count = false;
            while (i < text.Length && (text[i] == '!' || text[i] == '&' || text[i] == ' '))
            {
                exclude |= text[i] == '!';
                count |= text[i] == '&';
                i++;
            }

            var nameStart = i;
            while (i < text.Length && text[i] != ':' && text[i] != '|')
            {
                i++;
            }

            var name = text[nameStart..i].Trim();
            if (!Names.TryGetValue(name, out var variable))
            {
                throw new SecLangException(where, $"unsupported variable '{name}'");
            }

            string? selector = null;
            Regex? selectorRegex = null;
            if (i < text.Length && text[i] == ':')
            {
                i++;
                if (i < text.Length && text[i] == '/' && variable != CrsVariable.Xml)
                {
                    var end = i + 1;
                    while (end < text.Length && (text[end] != '/' || text[end - 1] == '\\'))
                    {
                        end++;
                    }

                    if (end >= text.Length)
                    {
                        throw new SecLangException(where, $"unterminated regex selector in '{text}'");
                    }

                    selector = text[(i + 1)..end];
                    selectorRegex = new Regex(selector, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
                    i = end + 1;
                }
                else
                {
                    var selectorStart = i;
                    var quoted = i < text.Length && text[i] == '\'';
                    if (quoted)
                    {
                        selectorStart = ++i;
                        while (i < text.Length && text[i] != '\'')
                        {
                            i++;
                        }

                        selector = text[selectorStart..i];
                        i = Math.Min(i + 1, text.Length);
                    }
                    else
                    {
                        while (i < text.Length && text[i] != '|')
                        {
                            i++;
                        }

                        selector = text[selectorStart..i];
                    }
                }
            }

            targets.Add(new CrsTarget(variable, name.ToUpperInvariant(), selector, selectorRegex, exclude, count));
            while (i < text.Length && (text[i] == '|' || text[i] == ' '))
            {
                i++;
            }
        }

        return targets;
    }
}
