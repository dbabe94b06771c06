using System.Collections.Frozen;
using System.Globalization;
using System.Text.RegularExpressions;

namespace AseGateway.Waf.Crs;

/// <summary>Settings the rule set is loaded with: which files, and the CRS variables the configuration sets.</summary>
internal sealed record CrsLoadOptions(string RulesPath, int ParanoiaLevel, int? DetectionParanoiaLevel = null, int? InboundAnomalyThreshold = null, IReadOnlySet<string>? DisabledRuleIds = null, int? OutboundAnomalyThreshold = null);

/// <summary>Load-time services for directives: reading data files next to the rule file that names them.</summary>
internal sealed class CrsLoadContext(string directory, List<string>? dataFilesRead = null)
{
    public List<string> ReadPhraseFiles(string argument, string where)
    {
        var phrases = new List<string>();
        foreach (var name in argument.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.IsPathRooted(name) ? name : Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                throw new SecLangException(where, $"data file '{name}' not found (looked for {path})");
            }

            dataFilesRead?.Add(path);
            foreach (var line in File.ReadAllLines(path))
            {
                var trimmed = line.Trim();
                if (trimmed.Length > 0 && trimmed[0] != '#')
                {
                    phrases.Add(trimmed);
                }
            }
        }

        return phrases;
    }
}

/// <summary>
/// Loads a CRS directory in the order CRS documents (crs-setup.conf, then rules/*.conf sorted by name), applies every
/// directive, and builds the immutable <see cref="CrsProgram"/>. Anything unsupported is an error naming file and line.
/// </summary>
internal sealed class CrsRuleSetLoader
{
    /// <summary>Engine directives that configure ModSecurity's host integration; the gateway's WAF policy owns these settings.</summary>
    private static readonly FrozenSet<string> HostDirectives = new[]
    {
        "SecRequestBodyAccess", "SecRequestBodyLimit", "SecRequestBodyNoFilesLimit", "SecRequestBodyInMemoryLimit",
        "SecRequestBodyLimitAction", "SecRequestBodyJsonDepthLimit", "SecArgumentsLimit", "SecCookieFormat",
        "SecCollectionTimeout", "SecPcreMatchLimit", "SecPcreMatchLimitRecursion", "SecTmpDir", "SecDataDir",
        "SecAuditEngine", "SecAuditLog", "SecAuditLogParts", "SecAuditLogType", "SecAuditLogRelevantStatus",
        "SecAuditLogStorageDir", "SecAuditLogFormat", "SecDebugLog", "SecDebugLogLevel", "SecUnicodeMapFile",
        "SecStatusEngine", "SecUploadDir", "SecUploadKeepFiles", "SecUploadFileMode", "SecTmpSaveUploadedFiles",
        "SecServerSignature", "SecWebAppId", "SecHttpBlKey",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private readonly CrsLoadOptions _options;
    private readonly List<CrsRule> _rules = [];
    private readonly Dictionary<int, CrsRule> _byId = [];
    private readonly Dictionary<int, CrsRule> _defaults = [];
    private readonly List<string> _signatures = [];
    private readonly List<string> _dataFiles = [];
    private string _engine = "On";
    private char _argumentSeparator = '&';
    private readonly CrsResponseSettings _response = new();

    private CrsRuleSetLoader(CrsLoadOptions options) => _options = options;

    public static CrsProgram Load(CrsLoadOptions options) => Load(options, RuleFiles(options.RulesPath), out _);

    /// <summary>Loads the given rule files (from <see cref="RuleFiles"/>) and reports the data files the rules read.</summary>
    public static CrsProgram Load(CrsLoadOptions options, List<string> ruleFiles, out IReadOnlyList<string> dataFiles)
    {
        var loader = new CrsRuleSetLoader(options);
        dataFiles = loader._dataFiles;
        foreach (var file in ruleFiles)
        {
            loader.LoadFile(file);
            if (Path.GetFileName(file).StartsWith("crs-setup.conf", StringComparison.Ordinal))
            {
                loader.LoadText(ConfigurationText(options), Path.Combine(Path.GetDirectoryName(file)!, "(managedRuleSets configuration)"));
            }
        }

        return loader.Build(options);
    }

    /// <summary>
    /// The files to load, in order: what the directory's owasp-crs.load includes (Debian's modsecurity-crs layout:
    /// /usr/share/modsecurity-crs/rules plus crs-setup.conf and the exclusion files in /etc/modsecurity/crs), otherwise
    /// crs-setup.conf (or its .example) beside or above the rules, then every rules *.conf in name order.
    /// </summary>
    public static List<string> RuleFiles(string rulesPath)
    {
        if (!Directory.Exists(rulesPath))
        {
            throw new SecLangException(rulesPath, "the CRS rules directory does not exist");
        }

        var packageLoadFile = Path.Combine(rulesPath, PackageLoadFile);
        if (File.Exists(packageLoadFile))
        {
            return PackageIncludes(packageLoadFile);
        }

        var rulesDirectory = Directory.Exists(Path.Combine(rulesPath, "rules")) ? Path.Combine(rulesPath, "rules") : rulesPath;
        var files = new List<string>();
        string[] setupCandidates =
        [
            Path.Combine(rulesPath, "crs-setup.conf"), Path.Combine(rulesDirectory, "crs-setup.conf"),
            Path.Combine(rulesPath, "crs-setup.conf.example"), Path.Combine(rulesDirectory, "crs-setup.conf.example"),
        ];
        foreach (var candidate in setupCandidates)
        {
            if (File.Exists(candidate))
            {
                files.Add(candidate);
                break;
            }
        }

        if (files.Count == 0)
        {
            throw new SecLangException(rulesPath, "no crs-setup.conf (or crs-setup.conf.example) found");
        }

        var rules = Directory.GetFiles(rulesDirectory, "*.conf");
        Array.Sort(rules, StringComparer.Ordinal);
        foreach (var rule in rules)
        {
            if (!Path.GetFileName(rule).StartsWith("crs-setup", StringComparison.Ordinal))
            {
                files.Add(rule);
            }
        }

        return files;
    }

    /// <summary>The file Debian's modsecurity-crs package has Apache include: the CRS files in load order.</summary>
    public const string PackageLoadFile = "owasp-crs.load";

    /// <summary>
    /// The files a package load file names with Include (must exist) and IncludeOptional (skipped when missing);
    /// a wildcard file name expands to the matching files in name order, as Apache expands it.
    /// </summary>
    private static List<string> PackageIncludes(string loadFile)
    {
        var files = new List<string>();
        var lines = File.ReadAllLines(loadFile);
        for (var i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || parts[0].StartsWith('#'))
            {
                continue;
            }

            var where = $"{loadFile}:{i + 1}";
            var optional = parts[0].Equals("IncludeOptional", StringComparison.OrdinalIgnoreCase);
            if (parts.Length != 2 || !(optional || parts[0].Equals("Include", StringComparison.OrdinalIgnoreCase)))
            {
                throw new SecLangException(where, $"only 'Include <path>' and 'IncludeOptional <path>' are understood here, not '{lines[i].Trim()}'");
            }

            var path = Path.GetFullPath(parts[1].Trim('"'), Path.GetDirectoryName(loadFile)!);
            var name = Path.GetFileName(path);
            var directory = Path.GetDirectoryName(path)!;
            var matches = name.Contains('*') || name.Contains('?')
                ? Directory.Exists(directory) ? Directory.GetFiles(directory, name) : []
                : File.Exists(path) ? [path] : [];
            if (matches.Length == 0 && !optional)
            {
                throw new SecLangException(where, $"'{parts[1]}' matches no file");
            }

            Array.Sort(matches, StringComparer.Ordinal);
            files.AddRange(matches);
        }

        if (!files.Exists(f => Path.GetFileName(f).StartsWith("crs-setup.conf", StringComparison.Ordinal)))
        {
            throw new SecLangException(loadFile, "includes no crs-setup.conf");
        }

        return files;
    }

    /// <summary>
    /// The CRS variables the gateway configuration sets, as crs-setup.conf's rule 900000 would: CRS 4's names, and
    /// CRS 3.3's (tx.paranoia_level for blocking, tx.executing_paranoia_level for detection), which CRS 4 ignores.
    /// </summary>
    private static string ConfigurationText(CrsLoadOptions options)
    {
        var detection = Math.Max(options.DetectionParanoiaLevel ?? options.ParanoiaLevel, options.ParanoiaLevel);
        var text = $"SecAction \"id:9990001,phase:1,pass,nolog,t:none,setvar:tx.blocking_paranoia_level={options.ParanoiaLevel},setvar:tx.detection_paranoia_level={detection},setvar:tx.paranoia_level={options.ParanoiaLevel},setvar:tx.executing_paranoia_level={detection}";
        if (options.InboundAnomalyThreshold is { } threshold)
        {
            text += $",setvar:tx.inbound_anomaly_score_threshold={threshold}";
        }

        if (options.OutboundAnomalyThreshold is { } outbound)
        {
            text += $",setvar:tx.outbound_anomaly_score_threshold={outbound}";
        }

        return text + "\"\n";
    }

    public void LoadFile(string path) => Apply(SecLangParser.ParseFile(path), new CrsLoadContext(Path.GetDirectoryName(path)!, _dataFiles));

    public void LoadText(string text, string path) => Apply(SecLangParser.Parse(text, path), new CrsLoadContext(Path.GetDirectoryName(path)!, _dataFiles));

    private void Apply(List<SecLangDirective> directives, CrsLoadContext load)
    {
        for (var i = 0; i < directives.Count; i++)
        {
            var directive = directives[i];
            switch (directive.Name)
            {
                case "SecRule":
                case "SecAction":
                    i = AddRule(directives, i, load);
                    break;
                case "SecMarker":
                    Require(directive, 1);
                    _rules.Add(new CrsRule { Where = directive.Where, File = directive.File, Marker = directive.Arguments[0], Phase = 0 });
                    break;
                case "SecDefaultAction":
                    Require(directive, 1);
                    var template = new CrsRule { Where = directive.Where, File = directive.File };
                    ApplyActions(template, directive.Arguments[0], load, directive.Where, isDefault: true);
                    _defaults[template.Phase] = template;
                    break;
                case "SecRuleRemoveById":
                    foreach (var argument in directive.Arguments)
                    {
                        RemoveWhere(rule => InIdRange(rule.Id, argument, directive.Where));
                    }

                    break;
                case "SecRuleRemoveByTag":
                    Require(directive, 1);
                    var tagPattern = new Regex(directive.Arguments[0], RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                    RemoveWhere(rule => rule.Tags.Exists(tagPattern.IsMatch));
                    break;
                case "SecRuleRemoveByMsg":
                    Require(directive, 1);
                    RemoveWhere(rule => rule.Message?.Text.Contains(directive.Arguments[0], StringComparison.Ordinal) == true);
                    break;
                case "SecRuleUpdateTargetById":
                    Require(directive, 2);
                    foreach (var rule in RulesWithIds(directive.Arguments[0], directive.Where))
                    {
                        UpdateTargets(rule, directive);
                    }

                    break;
                case "SecRuleUpdateTargetByTag":
                    Require(directive, 2);
                    foreach (var rule in _rules)
                    {
                        if (rule.Tags.Contains(directive.Arguments[0]))
                        {
                            UpdateTargets(rule, directive);
                        }
                    }

                    break;
                case "SecRuleUpdateActionById":
                    Require(directive, 2);
                    foreach (var rule in RulesWithIds(directive.Arguments[0], directive.Where))
                    {
                        ApplyActions(rule, directive.Arguments[1], load, directive.Where, isDefault: false);
                        rule.Info = InfoOf(rule);
                    }

                    break;
                case "SecComponentSignature":
                    Require(directive, 1);
                    _signatures.Add(directive.Arguments[0]);
                    break;
                case "SecRuleEngine":
                    Require(directive, 1);
                    _engine = directive.Arguments[0] is "On" or "Off" or "DetectionOnly" ? directive.Arguments[0] : throw new SecLangException(directive.Where, $"SecRuleEngine '{directive.Arguments[0]}' is not On, Off or DetectionOnly");
                    break;
                case "SecArgumentSeparator":
                    Require(directive, 1);
                    _argumentSeparator = directive.Arguments[0].Length == 1 ? directive.Arguments[0][0] : throw new SecLangException(directive.Where, "SecArgumentSeparator takes one character");
                    break;
                default:
                    if (!HostDirectives.Contains(directive.Name) && !_response.TryApply(directive))
                    {
                        throw new SecLangException(directive.Where, $"unsupported directive '{directive.Name}'");
                    }

                    break;
            }
        }
    }

    private static void Require(SecLangDirective directive, int count)
    {
        if (directive.Arguments.Count < count)
        {
            throw new SecLangException(directive.Where, $"{directive.Name} needs {count} argument(s)");
        }
    }

    private static bool InIdRange(int id, string argument, string where)
    {
        var dash = argument.IndexOf('-', 1);
        if (dash > 0 && int.TryParse(argument[..dash], CultureInfo.InvariantCulture, out var low) && int.TryParse(argument[(dash + 1)..], CultureInfo.InvariantCulture, out var high))
        {
            return id >= low && id <= high;
        }

        return int.TryParse(argument, CultureInfo.InvariantCulture, out var single) ? id == single : throw new SecLangException(where, $"'{argument}' is not a rule id or id range");
    }

    private List<CrsRule> RulesWithIds(string argument, string where)
    {
        var found = new List<CrsRule>();
        foreach (var part in argument.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var rule in _rules)
            {
                if (!rule.IsMarker && InIdRange(rule.Id, part, where))
                {
                    found.Add(rule);
                }
            }
        }

        return found;
    }

    private void RemoveWhere(Predicate<CrsRule> predicate)
    {
        _rules.RemoveAll(rule => !rule.IsMarker && predicate(rule));
    }

    private static void UpdateTargets(CrsRule rule, SecLangDirective directive)
    {
        var targets = CrsTargets.Parse(directive.Arguments[1], directive.Where);
        if (directive.Arguments.Count > 2)
        {
            var replaced = CrsTargets.Parse(directive.Arguments[2], directive.Where)[0];
            rule.Targets.RemoveAll(t => t.Variable == replaced.Variable && t.Selector == replaced.Selector && !t.Exclude);
        }

        rule.Targets.AddRange(targets);
    }

    private int AddRule(List<SecLangDirective> directives, int index, CrsLoadContext load)
    {
        var directive = directives[index];
        var rule = ParseRule(directive, load);
        var defaults = _defaults.TryGetValue(rule.Phase, out var template) ? template : null;
        if (defaults is not null && !rule.HasNone)
        {
            rule.Transforms.InsertRange(0, defaults.Transforms);
            rule.TransformNames.InsertRange(0, defaults.TransformNames);
        }

        if (rule.Disruptive is CrsDisruptive.None or CrsDisruptive.Block)
        {
            rule.Disruptive = defaults?.Disruptive is { } inherited and not CrsDisruptive.None ? inherited : CrsDisruptive.Pass;
        }

        rule.Log ??= defaults?.Log ?? true;
        if (rule.Id == 0)
        {
            throw new SecLangException(directive.Where, "rule has no id");
        }

        if (!_byId.TryAdd(rule.Id, rule) && _rules.Contains(_byId[rule.Id]))
        {
            throw new SecLangException(directive.Where, $"duplicate rule id {rule.Id} (first at {_byId[rule.Id].Where})");
        }

        _byId[rule.Id] = rule;
        var last = rule;
        while (last.StartsChain)
        {
            if (++index >= directives.Count || directives[index].Name != "SecRule")
            {
                throw new SecLangException(last.Where, "chain without a following SecRule");
            }

            var child = ParseRule(directives[index], load, rule.Id);
            child.Phase = rule.Phase;
            child.Id = rule.Id;
            last.Chained = child;
            last = child;
        }

        rule.Info = InfoOf(rule);
        _rules.Add(rule);
        return index;
    }

    private CrsRule ParseRule(SecLangDirective directive, CrsLoadContext load, int chainId = 0)
    {
        var rule = new CrsRule { Where = directive.Where, File = directive.File };
        var isAction = directive.Name == "SecAction";
        Require(directive, isAction ? 1 : 2);
        ApplyActions(rule, isAction ? directive.Arguments[0] : directive.Arguments.Count > 2 ? directive.Arguments[2] : string.Empty, load, directive.Where, isDefault: false);
        if (!isAction)
        {
            rule.Targets.AddRange(CrsTargets.Parse(directive.Arguments[0], directive.Where));

            // A rule the configuration disables is not compiled: its operator may need what this host lacks.
            var disabled = _options.DisabledRuleIds?.Contains((chainId != 0 ? chainId : rule.Id).ToString(CultureInfo.InvariantCulture)) == true;
            rule.Operator = CrsOperator.Compile(disabled ? "@noMatch" : directive.Arguments[1], load, directive.Where);
        }

        return rule;
    }

    private static void ApplyActions(CrsRule rule, string text, CrsLoadContext load, string where, bool isDefault)
    {
        _ = load;
        foreach (var (name, value) in SecLangParser.SplitActions(text, where))
        {
            switch (name.ToLowerInvariant())
            {
                case "id":
                    rule.Id = int.TryParse(value, CultureInfo.InvariantCulture, out var id) && id > 0 ? id : throw new SecLangException(where, $"invalid rule id '{value}'");
                    break;
                case "phase":
                    rule.Phase = value switch
                    {
                        "request" => 2,
                        "response" => 4,
                        "logging" => 5,
                        _ when int.TryParse(value, CultureInfo.InvariantCulture, out var phase) && phase is >= 1 and <= 5 => phase,
                        _ => throw new SecLangException(where, $"invalid phase '{value}'"),
                    };
                    break;
                case "chain":
                    rule.StartsChain = true;
                    break;
                case "pass":
                    rule.Disruptive = CrsDisruptive.Pass;
                    break;
                case "block":
                    rule.Disruptive = CrsDisruptive.Block;
                    break;
                case "deny":
                    rule.Disruptive = CrsDisruptive.Deny;
                    break;
                case "drop":
                    rule.Disruptive = CrsDisruptive.Drop;
                    break;
                case "allow":
                    rule.Disruptive = CrsDisruptive.Allow;
                    break;
                case "redirect":
                    rule.Disruptive = CrsDisruptive.Redirect;
                    break;
                case "status":
                    rule.Status = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "capture":
                    rule.Capture = true;
                    break;
                case "multimatch":
                    rule.MultiMatch = true;
                    break;
                case "log":
                    rule.Log = true;
                    break;
                case "nolog":
                    rule.Log = false;
                    break;
                case "t":
                    if (string.Equals(value, CrsTransforms.None, StringComparison.OrdinalIgnoreCase))
                    {
                        rule.HasNone = true;
                        rule.Transforms.Clear();
                        rule.TransformNames.Clear();
                    }
                    else if (CrsTransforms.TryGet(value, out var transform))
                    {
                        rule.Transforms.Add(transform);
                        rule.TransformNames.Add(value);
                    }
                    else
                    {
                        throw new SecLangException(where, $"unsupported transformation 't:{value}'");
                    }

                    break;
                case "msg":
                    rule.Message = CrsMacro.Parse(value, where);
                    break;
                case "logdata":
                    rule.LogData = CrsMacro.Parse(value, where);
                    break;
                case "severity":
                    rule.Severity = value.ToUpperInvariant();
                    break;
                case "tag":
                    rule.Tags.Add(value);
                    break;
                case "skipafter":
                    rule.SkipAfter = value;
                    break;
                case "skip":
                    rule.Skip = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "setvar":
                    rule.Effects.Add(ParseSetVar(value, where));
                    break;
                case "ctl":
                    rule.Effects.Add(ParseCtl(value, where));
                    break;
                case "ver" or "rev" or "maturity" or "accuracy" or "auditlog" or "noauditlog" or "initcol" or "expirevar" or "setenv" or "sanitisearg" or "sanitisematched" or "xmlns":
                    // Metadata, audit-log routing and persistent collections (which CRS only uses when
                    // ENABLE_DEFAULT_COLLECTIONS is set): no effect on the verdict of this engine.
                    break;
                default:
                    throw new SecLangException(where, $"unsupported action '{name}'");
            }
        }

        if (isDefault && rule.Disruptive == CrsDisruptive.None)
        {
            rule.Disruptive = CrsDisruptive.Pass;
        }
    }

    private static CrsSetVar ParseSetVar(string text, string where)
    {
        var delete = text.StartsWith('!');
        var body = delete ? text[1..] : text;
        var equals = body.IndexOf('=', StringComparison.Ordinal);
        var name = equals < 0 ? body : body[..equals];
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
        {
            throw new SecLangException(where, $"setvar '{text}' does not name collection.variable");
        }

        var collection = name[..dot].ToUpperInvariant();
        if (collection is not ("TX" or "IP" or "GLOBAL" or "SESSION" or "USER" or "RESOURCE"))
        {
            throw new SecLangException(where, $"setvar on unsupported collection '{collection}'");
        }

        var key = CrsMacro.Parse(name[(dot + 1)..], where);
        if (delete)
        {
            return new CrsSetVar(collection, key, null, '!');
        }

        if (equals < 0)
        {
            return new CrsSetVar(collection, key, CrsMacro.Parse("1", where), '=');
        }

        var value = body[(equals + 1)..];
        var operation = value.Length > 0 && value[0] is '+' or '-' ? value[0] : '=';
        return new CrsSetVar(collection, key, CrsMacro.Parse(operation == '=' ? value : value[1..], where), operation);
    }

    private static CrsCtl ParseCtl(string text, string where)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new SecLangException(where, $"ctl '{text}' has no value");
        }

        var setting = text[..equals];
        var value = text[(equals + 1)..];
        switch (setting)
        {
            case "ruleRemoveTargetById" or "ruleRemoveTargetByTag":
                var semicolon = value.IndexOf(';', StringComparison.Ordinal);
                if (semicolon <= 0)
                {
                    throw new SecLangException(where, $"ctl:{setting} needs 'rule;TARGET'");
                }

                var target = CrsTargets.Parse(value[(semicolon + 1)..], where)[0] with { Exclude = true };
                return new CrsCtl(setting, value[..semicolon], value[..semicolon], target);
            case "ruleEngine" or "ruleRemoveById" or "ruleRemoveByTag" or "requestBodyProcessor" or "forceRequestBodyVariable"
                or "auditEngine" or "auditLogParts" or "requestBodyAccess" or "responseBodyAccess" or "debugLogLevel" or "requestBodyLimit":
                return new CrsCtl(setting, value, null, null);
            default:
                throw new SecLangException(where, $"unsupported ctl '{setting}'");
        }
    }

    private static ManagedRuleInfo InfoOf(CrsRule rule)
    {
        var severity = rule.Severity switch
        {
            "CRITICAL" or "EMERGENCY" or "ALERT" or "2" or "1" or "0" => WafSeverity.Critical,
            "ERROR" or "3" => WafSeverity.Error,
            "WARNING" or "4" => WafSeverity.Warning,
            _ => WafSeverity.Notice,
        };
        return new ManagedRuleInfo(rule.Id.ToString(CultureInfo.InvariantCulture), GroupOf(rule.File), severity, rule.Message?.Text ?? string.Empty);
    }

    /// <summary>Azure's rule group names: the file name without its REQUEST-9xx- prefix (e.g. SQLI, PROTOCOL-ENFORCEMENT).</summary>
    private static string GroupOf(string file)
    {
        var name = Path.GetFileNameWithoutExtension(file);
        var parts = name.Split('-', 3);
        var group = parts.Length == 3 && parts[1].Length == 3 && char.IsAsciiDigit(parts[1][0]) ? parts[2] : name;
        return group.StartsWith("APPLICATION-ATTACK-", StringComparison.Ordinal) ? group["APPLICATION-ATTACK-".Length..] : group;
    }

    private CrsProgram Build(CrsLoadOptions options)
    {
        // After SecRuleUpdateActionById/TargetById: the chains and targets are final now.
        var chains = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var rule in _rules)
        {
            for (var link = rule; link is not null; link = link.Chained)
            {
                var key = string.Join(',', link.TransformNames);
                if (!chains.TryGetValue(key, out var chain))
                {
                    chain = chains.Count;
                    chains[key] = chain;
                }

                link.TransformChain = chain;
                link.HasExclusions = link.Targets.Exists(static t => t.Exclude);
            }
        }

        var phases = new CrsRule[6][];
        for (var phase = 1; phase <= 5; phase++)
        {
            var list = new List<CrsRule>();
            foreach (var rule in _rules)
            {
                if ((rule.IsMarker || rule.Phase == phase) && !(options.DisabledRuleIds?.Contains(rule.Id.ToString(CultureInfo.InvariantCulture)) == true && !rule.IsMarker))
                {
                    list.Add(rule);
                }
            }

            for (var i = 0; i < list.Count; i++)
            {
                if (list[i].SkipAfter is { } marker)
                {
                    var target = list.FindIndex(i + 1, r => r.Marker == marker);
                    list[i].SkipAfterIndex = target >= 0 ? target : throw new SecLangException(list[i].Where, $"skipAfter marker '{marker}' not found after the rule");
                }
            }

            phases[phase] = [.. list];
        }

        var infos = new List<ManagedRuleInfo>();
        foreach (var rule in _rules)
        {
            if (!rule.IsMarker)
            {
                infos.Add(rule.Info);
            }
        }

        return new CrsProgram(phases, infos, [.. _signatures], _engine, _argumentSeparator, _response);
    }
}
