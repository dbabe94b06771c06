using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Xml;

namespace AseGateway.Waf.Crs;

/// <summary>
/// One request's run through a <see cref="CrsProgram"/>: the TX collection, captures, MATCHED_VAR(S), runtime ctl
/// changes and the transformation cache. Created per request; the program it reads is shared and never changes.
/// </summary>
internal sealed partial class CrsTransaction
{
    private readonly CrsProgram _program;
    private readonly CrsRequestData _data;
    private readonly ManagedRuleContext _context;
    private readonly Dictionary<string, string> _tx = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Dictionary<string, string>> _persistent = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<(int Chain, string Value), string> _transformed = new(TransformedKeyComparer.Instance);
    private readonly List<CrsItem> _matchedVars = [];
    private readonly List<Candidate> _scratch = [];
    private HashSet<int>? _removedIds;
    private List<(int Low, int High)>? _removedRanges;
    private List<string>? _removedTags;
    private List<(int? Id, string? Tag, CrsTarget Target)>? _removedTargets;
    private readonly List<CrsTarget> _removalsForHead = [];
    private CrsRule? _removalsHead;
    private int _removalsSeen;
    private string _matchedVar = string.Empty;
    private string _matchedVarName = string.Empty;
    private string _engine;
    private bool _allowed;

    public CrsTransaction(CrsProgram program, CrsRequestData data, ManagedRuleContext context)
    {
        _program = program;
        _data = data;
        _context = context;
        _engine = program.RuleEngine;
    }

    /// <summary>Set when a deny/drop rule matched (what Prevention mode acts on).</summary>
    public bool Interrupted { get; private set; }

    public void Run()
    {
        if (_engine == "Off")
        {
            return;
        }

        RunPhase(1);
        if (_engine == "Off" || Stops())
        {
            return;
        }

        _data.ProcessBody(_program.ArgumentSeparator);
        RunPhase(2);
    }

    /// <summary>Only an enforcing engine in Prevention stops at a disruptive action; detection keeps looking.</summary>
    private bool Stops() => (Interrupted || _allowed) && _context.Prevention && _engine == "On";

    private void RunPhase(int phase)
    {
        var rules = _program.Phases[phase];
        var i = 0;
        while (i < rules.Length)
        {
            var rule = rules[i];
            if (rule.IsMarker || IsRemoved(rule) || !_context.IsEnabled(rule.Info))
            {
                i++;
                continue;
            }

            if (!EvaluateChain(rule))
            {
                i++;
                continue;
            }

            if (_engine == "Off" || Stops())
            {
                return;
            }

            if (rule.SkipAfterIndex >= 0)
            {
                i = rule.SkipAfterIndex;
            }
            else
            {
                i += 1 + rule.Skip;
            }
        }
    }

    private bool IsRemoved(CrsRule rule)
    {
        if (_removedIds is not null && _removedIds.Contains(rule.Id))
        {
            return true;
        }

        if (_removedRanges is not null)
        {
            foreach (var (low, high) in _removedRanges)
            {
                if (rule.Id >= low && rule.Id <= high)
                {
                    return true;
                }
            }
        }

        if (_removedTags is not null)
        {
            foreach (var tag in _removedTags)
            {
                if (rule.Tags.Contains(tag))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Evaluates a rule and its chain; on a full match runs the chain's actions and reports it.</summary>
    private bool EvaluateChain(CrsRule rule)
    {
        // Like ModSecurity, each link runs its setvar/ctl actions as it matches (once per matched value), so a chain
        // starter's setvar is visible to the links after it even when the chain as a whole then fails.
        for (var link = rule; link is not null; link = link.Chained)
        {
            if (!Evaluate(link, rule))
            {
                return false;
            }
        }

        var disruptive = rule.Disruptive;
        if (disruptive is CrsDisruptive.Deny or CrsDisruptive.Drop or CrsDisruptive.Redirect)
        {
            Interrupted |= _engine == "On";
        }
        else if (disruptive == CrsDisruptive.Allow)
        {
            _allowed |= _engine == "On";
        }

        if (rule.Log == true)
        {
            var message = rule.Message?.Expand(this) ?? string.Empty;
            var logData = rule.LogData?.Expand(this) ?? _matchedVar;
            _context.Report(new ManagedRuleMatch(rule.Info, _matchedVarName, logData, message, disruptive is CrsDisruptive.Deny or CrsDisruptive.Drop or CrsDisruptive.Redirect && _engine == "On"));
        }

        return true;
    }

    /// <summary>One rule (link) of a chain: any target value that passes the operator is a match.</summary>
    private bool Evaluate(CrsRule rule, CrsRule head)
    {
        if (rule.Operator is null)
        {
            RunEffects(rule, head);
            return true;
        }

        _scratch.Clear();
        foreach (var target in rule.Targets)
        {
            if (!target.Exclude)
            {
                Collect(target, rule, head);
            }
        }

        _matchedVars.Clear();
        var matched = false;
        // By index over the values collected now: macro expansion inside operators appends to (and trims) the list.
        var count = _scratch.Count;
        for (var k = 0; k < count; k++)
        {
            var candidate = _scratch[k];
            if (Test(rule, candidate.Value, out var transformed))
            {
                // As in ModSecurity, MATCHED_VAR(S) hold the value after the rule's transformations.
                var value = transformed;
                var name = candidate.FullName;
                matched = true;
                _matchedVar = value;
                _matchedVarName = name;
                _matchedVars.Add(new CrsItem(name, value));
                RunEffects(rule, head);
            }
        }

        return matched;
    }

    private void RunEffects(CrsRule rule, CrsRule head)
    {
        foreach (var effect in rule.Effects)
        {
            Execute(effect, head);
        }
    }

    private bool Test(CrsRule rule, string value, out string transformed)
    {
        var op = rule.Operator!;
        transformed = value;
        if (rule.MultiMatch)
        {
            if (op.IsMatch(this, value, rule.Capture))
            {
                return true;
            }

            foreach (var transform in rule.Transforms)
            {
                var next = transform(transformed);
                var changed = next != transformed;
                transformed = next;
                if (changed && op.IsMatch(this, next, rule.Capture))
                {
                    return true;
                }
            }

            return false;
        }

        transformed = Transform(rule, value);
        return op.IsMatch(this, transformed, rule.Capture);
    }

    private string Transform(CrsRule rule, string value)
    {
        if (rule.Transforms.Count == 0)
        {
            return value;
        }

        if (_transformed.TryGetValue((rule.TransformChain, value), out var cached))
        {
            return cached;
        }

        var current = value;
        foreach (var transform in rule.Transforms)
        {
            current = transform(current);
        }

        // Most values come out unchanged and their transformations allocate nothing: recomputing those costs a few
        // vectorised scans, less than keeping an entry for each (value, chain) of the request.
        if (!ReferenceEquals(current, value))
        {
            _transformed[(rule.TransformChain, value)] = current;
        }

        return current;
    }

    /// <summary>Adds the values a target selects to the scratch list, minus the rule's exclusions and runtime removals.</summary>
    private void Collect(CrsTarget target, CrsRule rule, CrsRule head)
    {
        var start = _scratch.Count;
        switch (target.Variable)
        {
            case CrsVariable.Args:
                AddItems(target, rule, head, _data.ArgsGet, "ARGS", WafInspectedKind.ArgValue);
                AddItems(target, rule, head, _data.ArgsPost, "ARGS", WafInspectedKind.ArgValue);
                break;
            case CrsVariable.ArgsGet:
                AddItems(target, rule, head, _data.ArgsGet, "ARGS_GET", WafInspectedKind.ArgValue);
                break;
            case CrsVariable.ArgsPost:
                AddItems(target, rule, head, _data.ArgsPost, "ARGS_POST", WafInspectedKind.ArgValue);
                break;
            case CrsVariable.ArgsNames:
                AddItems(target, rule, head, _data.ArgsGet, "ARGS_NAMES", WafInspectedKind.ArgName, names: true);
                AddItems(target, rule, head, _data.ArgsPost, "ARGS_NAMES", WafInspectedKind.ArgName, names: true);
                break;
            case CrsVariable.ArgsGetNames:
                AddItems(target, rule, head, _data.ArgsGet, "ARGS_GET_NAMES", WafInspectedKind.ArgName, names: true);
                break;
            case CrsVariable.ArgsPostNames:
                AddItems(target, rule, head, _data.ArgsPost, "ARGS_POST_NAMES", WafInspectedKind.ArgName, names: true);
                break;
            case CrsVariable.ArgsCombinedSize:
                long size = 0;
                foreach (var (name, value) in _data.ArgsGet)
                {
                    size += name.Length + value.Length;
                }

                foreach (var (name, value) in _data.ArgsPost)
                {
                    size += name.Length + value.Length;
                }

                AddSingle(target, "ARGS_COMBINED_SIZE", size.ToString(CultureInfo.InvariantCulture));
                break;
            case CrsVariable.RequestHeaders:
                AddItems(target, rule, head, _data.Headers, "REQUEST_HEADERS", WafInspectedKind.HeaderValue);
                break;
            case CrsVariable.RequestHeadersNames:
                AddItems(target, rule, head, _data.Headers, "REQUEST_HEADERS_NAMES", WafInspectedKind.HeaderName, names: true);
                break;
            case CrsVariable.RequestCookies:
                AddItems(target, rule, head, _data.Cookies, "REQUEST_COOKIES", WafInspectedKind.CookieValue);
                break;
            case CrsVariable.RequestCookiesNames:
                AddItems(target, rule, head, _data.Cookies, "REQUEST_COOKIES_NAMES", WafInspectedKind.CookieName, names: true);
                break;
            case CrsVariable.Tx:
                foreach (var (name, value) in _tx)
                {
                    if (target.SelectsName(name))
                    {
                        AddChecked(target, rule, head, "TX", name, value);
                    }
                }

                break;
            case CrsVariable.Ip or CrsVariable.Global or CrsVariable.Session or CrsVariable.Geo:
                if (_persistent.TryGetValue(target.Name, out var collection))
                {
                    foreach (var (name, value) in collection)
                    {
                        if (target.SelectsName(name))
                        {
                            AddChecked(target, rule, head, target.Name, name, value);
                        }
                    }
                }

                break;
            case CrsVariable.MatchedVars:
                foreach (var item in _matchedVars)
                {
                    if (target.SelectsName(item.Name))
                    {
                        _scratch.Add(new Candidate(null, item.Name, item.Value));
                    }
                }

                break;
            case CrsVariable.MatchedVarsNames:
                foreach (var item in _matchedVars)
                {
                    _scratch.Add(new Candidate(null, item.Name, item.Name));
                }

                break;
            case CrsVariable.Files:
                AddItems(target, rule, head, _data.Files, "FILES", WafInspectedKind.ArgValue);
                break;
            case CrsVariable.FilesNames:
                AddItems(target, rule, head, _data.FilesNames, "FILES_NAMES", WafInspectedKind.ArgName);
                break;
            case CrsVariable.MultipartPartHeaders:
                AddItems(target, rule, head, _data.MultipartPartHeaders, "MULTIPART_PART_HEADERS", WafInspectedKind.Body);
                break;
            case CrsVariable.Xml:
                AddXml(target);
                break;
            case CrsVariable.ResponseHeaders or CrsVariable.ResponseHeadersNames:
                AddResponseHeaders(target, rule, head);
                break;
            default:
                // Single-valued variables can be excluded too: CRS 941010 removes REQUEST_FILENAME from the XSS rules
                // (ctl:ruleRemoveTargetByTag) when the path holds only safe characters.
                if (Scalar(target.Variable) is { } scalar && (target.Count || !IsExcluded(target.Variable, rule, head, target.Name)))
                {
                    AddSingle(target, target.Name, scalar);
                }

                break;
        }

        if (target.Count)
        {
            var count = _scratch.Count - start;
            _scratch.RemoveRange(start, count);
            _scratch.Add(new Candidate(null, target.Name, count.ToString(CultureInfo.InvariantCulture)));
        }
    }

    private void AddSingle(CrsTarget target, string name, string value)
    {
        if (target.Selector is null)
        {
            _scratch.Add(new Candidate(null, name, value));
        }
    }

    private string? Scalar(CrsVariable variable) => variable switch
    {
        CrsVariable.RequestUri => _data.Uri,
        CrsVariable.RequestUriRaw => _data.RawUri,
        CrsVariable.RequestFilename => _data.DecodedPath,
        CrsVariable.RequestBasename => Basename(_data.DecodedPath),
        CrsVariable.RequestLine => $"{_data.Method} {_data.RawUri} {_data.Protocol}",
        CrsVariable.RequestMethod => _data.Method,
        CrsVariable.RequestProtocol => _data.Protocol,
        CrsVariable.QueryString => _data.QueryString,
        CrsVariable.RequestBody => _data.RequestBody,
        CrsVariable.RequestBodyLength => _data.BodyBytes.Length.ToString(CultureInfo.InvariantCulture),
        CrsVariable.ReqbodyError => _data.BodyError is null ? "0" : "1",
        CrsVariable.ReqbodyErrorMsg => _data.BodyError ?? string.Empty,
        CrsVariable.ReqbodyProcessor => _data.BodyProcessor,
        CrsVariable.FilesCombinedSize => _data.FilesCombinedSize.ToString(CultureInfo.InvariantCulture),
        CrsVariable.MultipartStrictError => _data.MultipartStrictError ? "1" : "0",
        CrsVariable.MultipartUnmatchedBoundary => _data.MultipartUnmatchedBoundary ? "1" : "0",
        CrsVariable.MatchedVar => _matchedVar,
        CrsVariable.MatchedVarName => _matchedVarName,
        CrsVariable.RemoteAddr => _data.RemoteAddress,
        CrsVariable.UniqueId => _data.UniqueId,
        CrsVariable.Duration => "0",
        _ => ResponseScalar(variable),
    };

    private static string Basename(string path)
    {
        var slash = path.LastIndexOfAny(['/', '\\']);
        return slash < 0 ? path : path[(slash + 1)..];
    }

    /// <summary>Adds a collection's values (or, with <paramref name="names"/>, its names as values), as the policy's exclusions allow.</summary>
    private void AddItems(CrsTarget target, CrsRule rule, CrsRule head, List<CrsItem> items, string prefix, WafInspectedKind kind, bool names = false)
    {
        foreach (var (name, value) in items)
        {
            if (target.SelectsName(name) && _context.MayInspect(head.Info, kind, name))
            {
                AddChecked(target, rule, head, prefix, name, names ? name : value);
            }
        }
    }

    private void AddChecked(CrsTarget target, CrsRule rule, CrsRule head, string prefix, string name, string value)
    {
        if (!target.Count && IsExcluded(target.Variable, rule, head, name))
        {
            return;
        }

        _scratch.Add(new Candidate(prefix, name, value));
    }

    /// <summary>Static exclusions (<c>!ARGS:foo</c>, SecRuleUpdateTargetById) and runtime ones (ctl:ruleRemoveTargetBy*).</summary>
    private bool IsExcluded(CrsVariable variable, CrsRule rule, CrsRule head, string name)
    {
        if (rule.HasExclusions)
        {
            foreach (var other in rule.Targets)
            {
                if (other.Excludes(variable, name))
                {
                    return true;
                }
            }
        }

        if (_removedTargets is not null)
        {
            foreach (var target in RemovedTargetsOf(head))
            {
                if (target.Excludes(variable, name))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// The runtime target removals (ctl:ruleRemoveTargetById/ByTag) that name this rule. Which ones do depends on the
    /// rule, not on the value: found once per rule and list state rather than once per value (a tag lookup each).
    /// </summary>
    private List<CrsTarget> RemovedTargetsOf(CrsRule head)
    {
        var removed = _removedTargets!;
        if (!ReferenceEquals(head, _removalsHead) || removed.Count != _removalsSeen)
        {
            _removalsForHead.Clear();
            foreach (var (id, tag, target) in removed)
            {
                if (id == head.Id || (tag is not null && head.Tags.Contains(tag)))
                {
                    _removalsForHead.Add(target);
                }
            }

            _removalsHead = head;
            _removalsSeen = removed.Count;
        }

        return _removalsForHead;
    }

    private void AddXml(CrsTarget target)
    {
        if (_data.Xml is not { } xml || target.Selector is null)
        {
            return;
        }

        XmlNodeList? nodes;
        try
        {
            nodes = xml.SelectNodes(target.Selector);
        }
        catch (System.Xml.XPath.XPathException)
        {
            return;
        }

        if (nodes is null)
        {
            return;
        }

        foreach (XmlNode node in nodes)
        {
            _scratch.Add(new Candidate("XML", target.Selector, CrsRequestData.Latin1(node.InnerText)));
        }
    }

    private void Execute(CrsEffect effect, CrsRule rule)
    {
        switch (effect)
        {
            case CrsSetVar setVar:
                SetVar(setVar);
                break;
            case CrsCtl ctl:
                Control(ctl, rule);
                break;
        }
    }

    private void SetVar(CrsSetVar setVar)
    {
        var collection = setVar.Collection == "TX" ? _tx : PersistentCollection(setVar.Collection);
        var key = setVar.Key.Expand(this);
        switch (setVar.Operation)
        {
            case '!':
                collection.Remove(key);
                break;
            case '=':
                collection[key] = setVar.Value!.Expand(this);
                break;
            default:
                var current = collection.TryGetValue(key, out var existing) ? CompareOperator.ToInt(existing) : 0;
                var delta = CompareOperator.ToInt(setVar.Value!.Expand(this));
                collection[key] = (setVar.Operation == '+' ? current + delta : current - delta).ToString(CultureInfo.InvariantCulture);
                break;
        }
    }

    private Dictionary<string, string> PersistentCollection(string name)
    {
        if (!_persistent.TryGetValue(name, out var collection))
        {
            collection = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            _persistent[name] = collection;
        }

        return collection;
    }

    private void Control(CrsCtl ctl, CrsRule rule)
    {
        _ = rule;
        switch (ctl.Setting)
        {
            case "ruleEngine":
                _engine = ctl.Value;
                break;
            case "ruleRemoveById":
                foreach (var part in ctl.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    var dash = part.IndexOf('-', 1);
                    if (dash > 0)
                    {
                        (_removedRanges ??= []).Add(((int)CompareOperator.ToInt(part[..dash]), (int)CompareOperator.ToInt(part[(dash + 1)..])));
                    }
                    else
                    {
                        (_removedIds ??= []).Add((int)CompareOperator.ToInt(part));
                    }
                }

                break;
            case "ruleRemoveByTag":
                (_removedTags ??= []).Add(ctl.Value);
                break;
            case "ruleRemoveTargetById":
                (_removedTargets ??= []).Add(((int)CompareOperator.ToInt(ctl.TargetRule!), null, ctl.Target!));
                break;
            case "ruleRemoveTargetByTag":
                (_removedTargets ??= []).Add((null, ctl.TargetRule, ctl.Target!));
                break;
            case "requestBodyProcessor":
                _data.BodyProcessor = ctl.Value.ToUpperInvariant();
                break;
            case "forceRequestBodyVariable":
                _data.ForceRequestBodyVariable = string.Equals(ctl.Value, "On", StringComparison.OrdinalIgnoreCase);
                break;
        }
    }

    public void SetCaptures(Match match)
    {
        for (var g = 0; g < 10; g++)
        {
            if (g < match.Groups.Count && match.Groups[g].Success)
            {
                _tx[g.ToString(CultureInfo.InvariantCulture)] = match.Groups[g].Value;
            }
            else
            {
                _tx.Remove(g.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    public void SetCapture(string value) => _tx["0"] = value;

    /// <summary>The value of <c>%{COLLECTION.key}</c>; unknown references expand to nothing, as in ModSecurity.</summary>
    public string ResolveMacro(string collection, string? key)
    {
        switch (collection)
        {
            case "TX":
                return key is not null && _tx.TryGetValue(key, out var value) ? value : string.Empty;
            case "IP" or "GLOBAL" or "SESSION":
                return key is not null && _persistent.TryGetValue(collection, out var persistent) && persistent.TryGetValue(key, out var stored) ? stored : string.Empty;
            case "RULE":
                return string.Empty;
        }

        if (!CrsTargets.TryGetVariable(collection, out var variable))
        {
            return string.Empty;
        }

        var target = new CrsTarget(variable, collection, key, null, false, false);
        var before = _scratch.Count;
        Collect(target, EmptyRule, EmptyRule);
        var result = _scratch.Count > before ? _scratch[before].Value : string.Empty;
        _scratch.RemoveRange(before, _scratch.Count - before);
        return result;
    }

    /// <summary>
    /// A value a rule tests and the name it is reported under. Most values never match, so "ARGS:name" is built only
    /// for those that do (MATCHED_VAR_NAME, MATCHED_VARS) rather than once per value per rule.
    /// </summary>
    private readonly record struct Candidate(string? Prefix, string Name, string Value)
    {
        public string FullName => Prefix is null ? Name : string.Concat(Prefix, ":", Name);
    }

    /// <summary>
    /// Values are compared by reference: each request value is one string instance that every rule reads, so a
    /// reference hash finds it without hashing its characters, and an equal string from elsewhere merely misses.
    /// </summary>
    private sealed class TransformedKeyComparer : IEqualityComparer<(int Chain, string Value)>
    {
        public static readonly TransformedKeyComparer Instance = new();

        public bool Equals((int Chain, string Value) x, (int Chain, string Value) y) => x.Chain == y.Chain && ReferenceEquals(x.Value, y.Value);

        public int GetHashCode((int Chain, string Value) obj) => HashCode.Combine(obj.Chain, RuntimeHelpers.GetHashCode(obj.Value));
    }

    private static readonly CrsRule EmptyRule = new() { Where = string.Empty, File = string.Empty, Info = new ManagedRuleInfo("0", string.Empty, WafSeverity.Notice, string.Empty) };
}
