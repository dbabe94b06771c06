using System.Text.RegularExpressions;
using System.Xml;
using YamlDotNet.RepresentationModel;

namespace AseGateway.Tests.Waf.Crs.Injection;

/// <summary>One go-ftw test stage: the request it sends and whether it expects the rule to fire.</summary>
internal sealed record CrsStage(string TestId, string Method, string Uri, Dictionary<string, string> Headers, string? Data, bool ExpectsRule);

/// <summary>What a CRS rule inspects: its variables and its transformation chain, as written in the rule file.</summary>
internal sealed record CrsRuleTargets(string RuleId, string[] Variables, string[] Transformations, string Operator);

/// <summary>
/// Reads the CRS regression tests (go-ftw YAML, v4 and v3.3 layouts) and the rule definitions, and computes the
/// values a rule's operator sees for one request: the named variables, parsed as ModSecurity parses a request
/// (query string and urlencoded body into ARGS, cookies, XML bodies), then run through the rule's transformations.
/// </summary>
internal static partial class CrsInjectionCorpus
{
    public static CrsRuleTargets ReadRule(string rulesFolder, string ruleId)
    {
        foreach (var file in Directory.EnumerateFiles(rulesFolder, "REQUEST-9*.conf"))
        {
            var text = File.ReadAllText(file).Replace("\\\n", " ", StringComparison.Ordinal);
            foreach (var line in text.Split('\n'))
            {
                var match = SecRule().Match(line);
                if (match.Success && line.Contains($"id:{ruleId},", StringComparison.Ordinal))
                {
                    var transformations = Transformation().Matches(line).Select(m => m.Groups[1].Value).ToArray();
                    return new CrsRuleTargets(ruleId, match.Groups[1].Value.Split('|'), transformations, match.Groups[2].Value);
                }
            }
        }

        throw new InvalidOperationException($"Rule {ruleId} is not in {rulesFolder}.");
    }

    /// <summary>The stages of a test file that expect the rule or expect it not to fire (other stages are skipped).</summary>
    public static List<CrsStage> ReadStages(string yamlFile, string ruleId)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(yamlFile))
        {
            stream.Load(reader);
        }

        var stages = new List<CrsStage>();
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        foreach (var test in ((YamlSequenceNode)root["tests"]).Children.Cast<YamlMappingNode>())
        {
            var testId = Scalar(test, "test_id") ?? Scalar(test, "test_title") ?? "?";
            foreach (var stageNode in ((YamlSequenceNode)test["stages"]).Children.Cast<YamlMappingNode>())
            {
                // v4: stages[].input/output; v3.3: stages[].stage.input/output.
                var stage = stageNode.Children.ContainsKey("stage") ? (YamlMappingNode)stageNode["stage"] : stageNode;
                var input = (YamlMappingNode)stage["input"];
                var output = (YamlMappingNode)stage["output"];
                var expects = Expectation(output, ruleId);
                if (expects is null)
                {
                    continue;
                }

                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                if (input.Children.TryGetValue("headers", out var headerNode) && headerNode is YamlMappingNode headerMap)
                {
                    foreach (var (name, value) in headerMap.Children)
                    {
                        headers[((YamlScalarNode)name).Value!] = ((YamlScalarNode)value).Value ?? string.Empty;
                    }
                }

                stages.Add(new CrsStage(testId, Scalar(input, "method") ?? "GET", Scalar(input, "uri") ?? "/", headers, Scalar(input, "data"), expects.Value));
            }
        }

        return stages;
    }

    /// <summary>The transformed values the rule's operator is called with for this request.</summary>
    public static List<string> Values(CrsRuleTargets rule, CrsStage stage)
    {
        var raw = new List<string>();
        var queryStart = stage.Uri.IndexOf('?', StringComparison.Ordinal);
        var path = queryStart < 0 ? stage.Uri : stage.Uri[..queryStart];
        var args = new List<(string Name, string Value)>();
        if (queryStart >= 0)
        {
            args.AddRange(ParseUrlEncoded(stage.Uri[(queryStart + 1)..]));
        }

        stage.Headers.TryGetValue("Content-Type", out var contentType);
        var isXml = contentType is not null && contentType.Contains("xml", StringComparison.OrdinalIgnoreCase);
        if (stage.Data is not null && !isXml)
        {
            args.AddRange(ParseUrlEncoded(stage.Data));
        }

        var cookies = stage.Headers.TryGetValue("Cookie", out var cookieHeader) ? ParseCookies(cookieHeader) : [];
        foreach (var variable in rule.Variables)
        {
            switch (variable)
            {
                case "ARGS":
                    raw.AddRange(args.Select(a => a.Value));
                    break;
                case "ARGS_NAMES":
                    raw.AddRange(args.Select(a => a.Name));
                    break;
                case "REQUEST_COOKIES":
                    raw.AddRange(cookies.Select(c => c.Value));
                    break;
                case "REQUEST_COOKIES_NAMES":
                    raw.AddRange(cookies.Select(c => c.Name));
                    break;
                case "REQUEST_FILENAME":
                    raw.Add(path);
                    break;
                case "REQUEST_BASENAME":
                    raw.Add(path[(path.LastIndexOf('/') + 1)..]);
                    break;
                case "XML:/*":
                case "XML://@*":
                    if (isXml && stage.Data is not null)
                    {
                        raw.AddRange(XmlValues(stage.Data, attributes: variable == "XML://@*"));
                    }

                    break;
                default:
                    if (variable.StartsWith("REQUEST_HEADERS:", StringComparison.Ordinal))
                    {
                        if (stage.Headers.TryGetValue(variable["REQUEST_HEADERS:".Length..], out var header))
                        {
                            raw.Add(header);
                        }

                        break;
                    }

                    throw new NotSupportedException($"The regression harness cannot compute variable '{variable}' of rule {rule.RuleId}.");
            }
        }

        return raw.Select(value => rule.Transformations.Aggregate(value, (current, name) => CrsTransforms.Apply(name, current))).ToList();
    }

    private static bool? Expectation(YamlMappingNode output, string ruleId)
    {
        if (output.Children.TryGetValue("log", out var logNode) && logNode is YamlMappingNode log)
        {
            if (ListsRule(log, "expect_ids", ruleId))
            {
                return true;
            }

            if (ListsRule(log, "no_expect_ids", ruleId))
            {
                return false;
            }
        }

        // v3.3: log_contains / no_log_contains: id "942100"
        var marker = $"id \"{ruleId}\"";
        if (Scalar(output, "log_contains")?.Contains(marker, StringComparison.Ordinal) == true)
        {
            return true;
        }

        return Scalar(output, "no_log_contains")?.Contains(marker, StringComparison.Ordinal) == true ? false : null;
    }

    private static bool ListsRule(YamlMappingNode log, string key, string ruleId) =>
        log.Children.TryGetValue(key, out var node) && node is YamlSequenceNode ids
        && ids.Children.Any(id => ((YamlScalarNode)id).Value == ruleId);

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var value) && value is YamlScalarNode scalar ? scalar.Value : null;

    /// <summary>application/x-www-form-urlencoded as ModSecurity reads it: '&amp;'-separated, first '=' splits, %HH and '+' decoded.</summary>
    private static List<(string Name, string Value)> ParseUrlEncoded(string text)
    {
        var args = new List<(string, string)>();
        foreach (var pair in text.Split('&'))
        {
            if (pair.Length == 0)
            {
                continue;
            }

            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            args.Add(equals < 0 ? (Decode(pair), string.Empty) : (Decode(pair[..equals]), Decode(pair[(equals + 1)..])));
        }

        return args;

        static string Decode(string text) => CrsTransforms.UrlDecode(text, unicode: false);
    }

    private static List<(string Name, string Value)> ParseCookies(string header) =>
        header.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(part => part.IndexOf('=', StringComparison.Ordinal) is var equals and >= 0 ? (part[..equals], part[(equals + 1)..]) : (part, string.Empty))
            .ToList();

    /// <summary>XML:/* is the text of the document element; XML://@* every attribute value.</summary>
    private static List<string> XmlValues(string xml, bool attributes)
    {
        var document = new XmlDocument { XmlResolver = null };
        using (var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore }))
        {
            document.Load(reader);
        }

        if (!attributes)
        {
            return [document.DocumentElement?.InnerText ?? string.Empty];
        }

        var values = new List<string>();
        foreach (XmlNode node in document.SelectNodes("//@*")!)
        {
            values.Add(node.Value ?? string.Empty);
        }

        return values;
    }

    [GeneratedRegex("""^SecRule\s+(\S+)\s+"(@\w+)""")]
    private static partial Regex SecRule();

    [GeneratedRegex(@"\bt:(\w+)")]
    private static partial Regex Transformation();
}
