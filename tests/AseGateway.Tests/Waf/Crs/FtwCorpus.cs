using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>What one go-ftw stage expects: status, rule ids logged or not, log regexes.</summary>
internal sealed record FtwExpectation(
    IReadOnlyList<int> Status,
    IReadOnlyList<int> ExpectIds,
    IReadOnlyList<int> NoExpectIds,
    string? MatchRegex,
    string? NoMatchRegex,
    bool? ExpectError);

/// <summary>One go-ftw stage: the request to send (as fields or as raw bytes) and the expectation; <see cref="GoFtw"/> is
/// false for the legacy FTW format, whose runner sends data as written.</summary>
internal sealed record FtwStage(
    string Method,
    string Uri,
    string Version,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    string? Data,
    byte[]? EncodedRequest,
    bool AutocompleteHeaders,
    FtwExpectation Output,
    bool GoFtw = true);

internal sealed record FtwTest(string File, int RuleId, int TestId, IReadOnlyList<FtwStage> Stages);

/// <summary>An expected difference: the tests it changes, why, and either a replacement expectation or a skip.</summary>
internal sealed record FtwOverride(int RuleId, IReadOnlyList<int> TestIds, string Reason, FtwExpectation? Output);

/// <summary>
/// Reads go-ftw (v2 format) regression tests and override files, field for field as go-ftw interprets them:
/// defaults GET, "/", HTTP/1.1, autocomplete_headers on. Also reads the legacy FTW format of CRS 3.3's tests:
/// "test_title: 942100-1" instead of test_id, log_contains / no_log_contains regexes over the log instead of
/// expect_ids, stop_magic instead of autocomplete_headers, raw_request, and meta.enabled: false for skipped files.
/// </summary>
internal static class FtwCorpus
{
    public static List<FtwTest> Load(string directory)
    {
        var tests = new List<FtwTest>();
        var files = Directory.GetFiles(directory, "*.y*ml", SearchOption.AllDirectories);
        Array.Sort(files, StringComparer.Ordinal);
        foreach (var file in files)
        {
            if (Path.GetFileName(file).Contains("override", StringComparison.Ordinal) || file.Contains("platform-overrides", StringComparison.Ordinal))
            {
                continue;
            }

            var stream = new YamlStream();
            using (var reader = new StringReader(File.ReadAllText(file)))
            {
                stream.Load(reader);
            }

            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            {
                continue;
            }

            if (Child(root, "meta") is YamlMappingNode meta && string.Equals(Text(Child(meta, "enabled")), "false", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var ruleId = Int(Child(root, "rule_id")) ?? LeadingNumber(Path.GetFileNameWithoutExtension(file)) ?? 0;
            if (Child(root, "tests") is not YamlSequenceNode list)
            {
                continue;
            }

            var relative = Path.GetRelativePath(directory, file);
            foreach (var node in list.Children.OfType<YamlMappingNode>())
            {
                var stages = new List<FtwStage>();
                foreach (var stageNode in (Child(node, "stages") as YamlSequenceNode)?.Children.OfType<YamlMappingNode>() ?? [])
                {
                    var stage = Child(stageNode, "stage") as YamlMappingNode ?? stageNode;
                    stages.Add(Stage((YamlMappingNode)Child(stage, "input")!, Child(stage, "output") as YamlMappingNode) with { GoFtw = Child(node, "test_title") is null });
                }

                tests.Add(new FtwTest(relative, ruleId, Int(Child(node, "test_id")) ?? TitleNumber(Text(Child(node, "test_title"))) ?? tests.Count, stages));
            }
        }

        return tests;
    }

    public static List<FtwOverride> LoadOverrides(string file)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(file)))
        {
            stream.Load(reader);
        }

        var overrides = new List<FtwOverride>();
        if (stream.Documents.Count == 0 || Child((YamlMappingNode)stream.Documents[0].RootNode, "test_overrides") is not YamlSequenceNode list)
        {
            return overrides;
        }

        foreach (var node in list.Children.OfType<YamlMappingNode>())
        {
            var reason = Text(Child(node, "reason")) ?? throw new InvalidDataException($"{file}: an override of rule {Text(Child(node, "rule_id"))} has no reason");
            var output = Child(node, "output") is YamlMappingNode o ? Expectation(o) : null;
            overrides.Add(new FtwOverride(Int(Child(node, "rule_id")) ?? 0, Ints(Child(node, "test_ids")), reason, output));
        }

        return overrides;
    }

    private static FtwStage Stage(YamlMappingNode input, YamlMappingNode? output)
    {
        var headers = new List<KeyValuePair<string, string>>();
        if (Child(input, "headers") is YamlMappingNode headerNode)
        {
            foreach (var (key, value) in headerNode.Children)
            {
                headers.Add(new(Text(key)!, Text(value) ?? string.Empty));
            }
        }

        var encoded = Text(Child(input, "encoded_request"));
        var raw = Text(Child(input, "raw_request"));
        return new FtwStage(
            Text(Child(input, "method")) ?? "GET",
            Text(Child(input, "uri")) ?? "/",
            Text(Child(input, "version")) ?? "HTTP/1.1",
            headers,
            ExpandTemplate(Text(Child(input, "data"))),
            encoded is not null ? Convert.FromBase64String(encoded) : raw is not null ? System.Text.Encoding.UTF8.GetBytes(raw) : null,
            !string.Equals(Text(Child(input, "autocomplete_headers")), "false", StringComparison.OrdinalIgnoreCase)
                && !string.Equals(Text(Child(input, "stop_magic")), "true", StringComparison.OrdinalIgnoreCase),
            output is null ? new FtwExpectation([], [], [], null, null, null) : Expectation(output));
    }

    /// <summary>
    /// go-ftw reads data as a Go template with Sprig's functions; the corpus uses only <c>{{ "1" | repeat 64200 }}</c>
    /// (920400's file-size tests), which without expansion would send a body far shorter than its Content-Length.
    /// </summary>
    private static string? ExpandTemplate(string? data) => data is null || !data.Contains("{{", StringComparison.Ordinal)
        ? data
        : Regex.Replace(data, """\{\{\s*"([^"]*)"\s*\|\s*repeat\s+([0-9]+)\s*\}\}""", m => string.Concat(Enumerable.Repeat(m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))));

    private static FtwExpectation Expectation(YamlMappingNode output)
    {
        var log = Child(output, "log") as YamlMappingNode;
        var expectError = Text(Child(output, "expect_error"));
        return new FtwExpectation(
            Ints(Child(output, "status")),
            log is null ? [] : Ints(Child(log, "expect_ids")),
            log is null ? [] : Ints(Child(log, "no_expect_ids")),
            log is null ? Text(Child(output, "log_contains")) : Text(Child(log, "match_regex")),
            log is null ? Text(Child(output, "no_log_contains")) : Text(Child(log, "no_match_regex")),
            expectError is null ? null : string.Equals(expectError, "true", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>"942100-1" (a legacy test title): the number after the rule id.</summary>
    private static int? TitleNumber(string? title)
    {
        var dash = title?.LastIndexOf('-') ?? -1;
        return dash < 0 ? null : LeadingNumber(title![(dash + 1)..]);
    }

    private static int? LeadingNumber(string text)
    {
        var digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
        {
            digits++;
        }

        return digits > 0 && int.TryParse(text.AsSpan(0, digits), out var value) ? value : null;
    }

    private static YamlNode? Child(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Text(YamlNode? node) => node is YamlScalarNode scalar ? scalar.Value : null;

    private static int? Int(YamlNode? node) => int.TryParse(Text(node), out var value) ? value : null;

    private static List<int> Ints(YamlNode? node) => node switch
    {
        YamlSequenceNode sequence => [.. sequence.Children.Select(Int).OfType<int>()],
        YamlScalarNode scalar when Int(scalar) is { } single => [single],
        _ => [],
    };
}
