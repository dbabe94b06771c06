using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AseGateway.Configuration;
using AseGateway.Model;
using AseGateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// Issue 8, part 6: the configuration parser against mutated files. Seeded random mutations of the shipped
/// configurations (and of one that uses every section) go through ConfigLoader, the validators and
/// SnapshotCompiler.TryCompile: nothing may throw, and every refusal names where the problem is by its JSON path.
/// The run is reproducible: iteration i always makes the same file (ASEGATEWAY_FUZZ_SEED and
/// ASEGATEWAY_FUZZ_ITERATIONS change the seed and the count).
/// </summary>
public sealed partial class ConfigFuzzTests(ITestOutputHelper output)
{
    private const int DefaultSeed = 20261130;
    private const int DefaultIterations = 2000;

    private static readonly HashSet<string> TopLevelNames = TopLevelPropertyNames();

    private static readonly Func<byte[], Random, byte[]>[] Mutators =
    [
        FlipBytes, Truncate, DeleteSpan, DuplicateSpan, SwapType, NestDeep, HugeNumber, InvalidUtf8, RemoveProperty, DuplicateElement, OddValue,
    ];

    private static readonly Func<byte[], Random, byte[]>[] StructuralMutators = [SwapType, RemoveProperty, DuplicateElement, OddValue, HugeNumber];

    [Fact]
    public void MutatedConfigs_NeverThrow_AndEveryErrorHasAJsonPath()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("ASEGATEWAY_FUZZ_SEED"), out var s) ? s : DefaultSeed;
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("ASEGATEWAY_FUZZ_ITERATIONS"), out var n) ? n : DefaultIterations;
        var seeds = SeedConfigs();
        var baseDirectory = AppContext.BaseDirectory;
        foreach (var (name, bytes) in seeds)
        {
            var loaded = ConfigLoader.Load(bytes, name, baseDirectory);
            Assert.True(loaded.IsValid, $"seed {name} is invalid: {string.Join("; ", loaded.Errors)}");
        }

        var findings = new List<string>();
        int refused = 0, compiled = 0;
        for (var i = 0; i < iterations; i++)
        {
            var random = new Random(unchecked((seed * 1_000_003) + i));
            var (seedName, bytes) = seeds[random.Next(seeds.Count)];
            var applied = new List<string>();
            // Half the files get one change that keeps them parseable, so that most reach the validators and the
            // compiler; the other half get one to three changes of any kind.
            var structural = random.Next(2) == 0;
            for (var m = structural ? 1 : 1 + random.Next(3); m > 0; m--)
            {
                var mutator = structural ? StructuralMutators[random.Next(StructuralMutators.Length)] : Mutators[random.Next(Mutators.Length)];
                applied.Add(mutator.Method.Name);
                bytes = mutator(bytes, random);
            }

            var (finding, valid) = Check(bytes, baseDirectory);
            refused += valid ? 0 : 1;
            compiled += valid ? 1 : 0;
            if (finding is not null)
            {
                output.WriteLine($"iteration {i}: {Encoding.UTF8.GetString(bytes)}");
                findings.Add($"iteration {i} ({seedName}: {string.Join(" + ", applied)}): {finding}");
            }
        }

        foreach (var finding in findings.Take(20))
        {
            output.WriteLine(finding);
        }

        ReliabilityReport.Row(
            output,
            "config parser fuzz",
            $"{iterations:N0} seeded mutations (seed {seed}) of {seeds.Count} configs: {findings.Count} crashes or path-less errors; {refused:N0} refused with JSON paths, {compiled:N0} valid and compiled",
            findings.Count == 0);
        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings.Take(20)));
    }

    /// <summary>What the fuzzer found, each fixed in the product and kept here as its own case.</summary>
    [Theory]
    [InlineData("{ \"\": 1 }", "['']", "unknown property ''")]
    [InlineData("{ \"name\": \"x\", \"frontEnd\": { \"\": [] } }", "frontEnd['']", "unknown property ''")]
    public void FuzzFinding_EmptyPropertyName_IsAnUnknownPropertyAtItsPath(string json, string path, string message)
    {
        var error = Assert.Single(ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "finding", AppContext.BaseDirectory).Errors);
        output.WriteLine(error.ToString());

        Assert.Equal(path, error.Path);
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Null(CheckErrors([error]));
    }

    /// <summary>Seed 4, iteration 14922: a null group of a rate-limit rule passed validation and crashed the compiler.</summary>
    [Fact]
    public void FuzzFinding_NullRateLimitGroup_IsAValidationErrorAtItsPath()
    {
        var json = JsonNode.Parse(SeedConfigs()[^1].Bytes)!;
        json["wafPolicies"]![0]!["customRules"]![1]!["groupByUserSession"] = new JsonArray((JsonNode?)null);

        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(json.ToJsonString()), "finding", AppContext.BaseDirectory);

        var error = Assert.Single(loaded.Errors);
        Assert.Equal("wafPolicies[0].customRules[1].groupByUserSession[0]", error.Path);
        Assert.Null(Check(Encoding.UTF8.GetBytes(json.ToJsonString()), AppContext.BaseDirectory).Finding);
    }

    /// <summary>Seed 6, iteration 5972: an empty NSG source prefix crashed the validator.</summary>
    [Theory]
    [InlineData("sourceAddressPrefix")]
    [InlineData("sourceAddressPrefixes")]
    public void FuzzFinding_EmptyNsgSource_IsAValidationErrorAtItsPath(string property)
    {
        var json = JsonNode.Parse(SeedConfigs()[^1].Bytes)!;
        var rule = json["networkSecurityGroup"]!["securityRules"]![0]!.AsObject();
        rule.Remove("sourceAddressPrefix");
        rule[property] = property == "sourceAddressPrefix" ? string.Empty : new JsonArray(JsonValue.Create(string.Empty));

        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(json.ToJsonString()), "finding", AppContext.BaseDirectory);

        var error = Assert.Single(loaded.Errors);
        Assert.Equal($"networkSecurityGroup.securityRules[0].{property}{(property.EndsWith('s') ? "[0]" : string.Empty)}", error.Path);
        Assert.Contains("is not an IP address", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Loads, validates and compiles one file; returns what is wrong with the outcome, if anything.</summary>
    private static (string? Finding, bool Valid) Check(byte[] bytes, string baseDirectory)
    {
        ConfigLoadResult loaded;
        try
        {
            loaded = ConfigLoader.Load(bytes, "fuzz", baseDirectory);
        }
        catch (Exception ex)
        {
            return ($"ConfigLoader.Load threw {ex.GetType().Name}: {ex.Message} {FirstFrame(ex)}", false);
        }

        if (!loaded.IsValid)
        {
            return (CheckErrors(loaded.Errors), false);
        }

        var errors = new List<ConfigError>();
        try
        {
            var snapshot = SnapshotCompiler.TryCompile(loaded, generation: 1, DateTimeOffset.UtcNow, errors, []);
            return (snapshot is null ? CheckErrors(errors) : null, snapshot is not null);
        }
        catch (Exception ex)
        {
            return ($"SnapshotCompiler.TryCompile threw {ex.GetType().Name}: {ex.Message} {FirstFrame(ex)}", true);
        }
    }

    /// <summary>The innermost frame of the gateway's own code, where a fix would go.</summary>
    private static string FirstFrame(Exception ex) =>
        ex.StackTrace?.Split('\n').Select(f => f.Trim()).FirstOrDefault(f => f.StartsWith("at AseGateway", StringComparison.Ordinal)) ?? string.Empty;

    private static string? CheckErrors(IReadOnlyList<ConfigError> errors)
    {
        if (errors.Count == 0)
        {
            return "refused without any error";
        }

        foreach (var error in errors)
        {
            // The path starts at the root ("$") or a property of the model; an unknown property's path is its own name.
            var first = FirstSegment().Match(error.Path ?? string.Empty);
            var known = first.Success && (first.Value == "$" || TopLevelNames.Contains(first.Value));
            var unknownProperty = !string.IsNullOrWhiteSpace(error.Path) && error.Message.StartsWith("unknown property", StringComparison.Ordinal);
            if (!known && !unknownProperty)
            {
                return $"error without a JSON path: '{error.Path}: {error.Message}'";
            }

            if (string.IsNullOrWhiteSpace(error.Message))
            {
                return $"error at {error.Path} has no message";
            }
        }

        return null;
    }

    /// <summary>The shipped configurations (API keys as hashes, so that no environment variable is needed) and one using every section.</summary>
    private static List<(string Name, byte[] Bytes)> SeedConfigs()
    {
        var seeds = new List<(string, byte[])>();
        foreach (var file in new[] { "quickstart.json", "container.ase.json" })
        {
            var json = JsonNode.Parse(File.ReadAllText(RepoPaths.Combine("src", "AseGateway", file)))!;
            json["management"]!["apiKeys"] = JsonNode.Parse($$"""[ { "name": "ops", "sha256": "{{new string('a', 64)}}" } ]""");
            json["apps"]!.AsArray().Select(a => a!["run"]!.AsObject()).ToList().ForEach(run => run.Remove("workingDirectory"));
            seeds.Add((file, Encoding.UTF8.GetBytes(json.ToJsonString())));
        }

        var everything = JsonNode.Parse(seeds[0].Item2)!.AsObject();
        everything["frontEnd"] = JsonNode.Parse($$"""
            {
              "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" }, { "name": "https", "address": "127.0.0.1", "port": 8443, "protocol": "Https" } ],
              "tls": { "minVersion": "Tls12", "http2": true, "certificates": [ { "path": {{JsonSerializer.Serialize(RepoPaths.Combine("certs", "dev", "localhost.crt"))}}, "keyPath": {{JsonSerializer.Serialize(RepoPaths.Combine("certs", "dev", "localhost.key"))}} } ] },
              "trustedForwarders": [ "10.0.1.0/24", "127.0.0.1" ],
              "limits": { "maxConcurrentConnections": 1000, "maxConnectionsPerClient": 50, "requestHeadersTimeoutSeconds": 10, "keepAliveTimeoutSeconds": 120,
                          "maxRequestHeadersTotalSizeInKb": 32, "maxRequestBodySizeInMb": 10, "minRequestBodyBytesPerSecond": 240, "minResponseBytesPerSecond": 240, "http2MaxStreamsPerConnection": 100 }
            }
            """);
        everything["networkSecurityGroup"] = JsonNode.Parse("""
            {
              "serviceTags": { "WafSubnet": [ "10.0.1.0/24" ] },
              "securityRules": [
                { "name": "AllowWaf", "priority": 100, "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "WafSubnet", "destinationPortRange": "8443" },
                { "name": "DenyBadRange", "priority": 200, "access": "Deny", "protocol": "*", "sourceAddressPrefixes": [ "203.0.113.0/24" ], "destinationPortRanges": [ "8080", "9000-9100" ] }
              ]
            }
            """);
        everything["wafPolicies"] = JsonNode.Parse("""
            [ { "name": "default",
                "policySettings": { "mode": "Prevention", "maxRequestBodySizeInKb": 128 },
                "customRules": [
                  { "name": "blockEvilBot", "priority": 2, "ruleType": "MatchRule", "action": "Block",
                    "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders", "selector": "User-Agent" } ],
                      "operator": "Contains", "matchValues": [ "evilbot" ], "transforms": [ "Lowercase", "Trim" ] } ] },
                  { "name": "limitLogin", "priority": 3, "ruleType": "RateLimitRule", "action": "Block", "rateLimitDuration": "OneMin", "rateLimitThreshold": 100,
                    "groupByUserSession": [ { "groupByVariables": [ { "variableName": "ClientAddr" } ] } ],
                    "matchConditions": [ { "matchVariables": [ { "variableName": "RequestUri" } ], "operator": "Regex", "matchValues": [ "^/login" ] } ] } ],
                "managedRules": { "managedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0" } ] },
                "hooks": [ { "name": "corp-inspector", "url": "http://127.0.0.1:9500/inspect", "timeoutMs": 50, "onError": "Allow" } ] } ]
            """);
        everything["defaultWafPolicy"] = "default";
        everything["retry"] = JsonNode.Parse("""{ "enabled": true, "maxAttempts": 2 }""");
        everything["instances"] = JsonNode.Parse("""{ "drainTimeoutSeconds": 30, "stopTimeoutSeconds": 10 }""");
        everything["reload"] = JsonNode.Parse("""{ "pollIntervalSeconds": 5, "debounceMilliseconds": 250 }""");
        var hello = everything["apps"]![0]!.AsObject();
        hello["accessRestrictions"] = JsonNode.Parse("""
            { "defaultAction": "Deny", "rules": [
              { "name": "office", "priority": 100, "action": "Allow", "ipAddress": "198.51.100.0/24,203.0.113.5/32" },
              { "name": "frontDoor", "priority": 200, "action": "Allow", "serviceTag": "Internet", "headers": { "X-Azure-FDID": [ "5b4f9a4e-0000-0000-0000-000000000000" ] } } ] }
            """);
        hello["hsts"] = JsonNode.Parse("""{ "maxAgeSeconds": 31536000, "includeSubDomains": true }""");
        hello["clientCertMode"] = "Optional";
        hello["clientCertExclusionPaths"] = JsonNode.Parse("""[ "/public" ]""");
        hello["healthCheck"] = JsonNode.Parse("""{ "intervalSeconds": 10, "maxPingFailures": 3 }""");
        hello["retry"] = JsonNode.Parse("""{ "maxAttempts": 3 }""");
        hello["run"]!["environment"] = JsonNode.Parse("""{ "GREETING": "hi" }""");
        seeds.Add(("every section", Encoding.UTF8.GetBytes(everything.ToJsonString())));
        return seeds;
    }

    private static byte[] FlipBytes(byte[] bytes, Random random)
    {
        var copy = (byte[])bytes.Clone();
        for (var flips = 1 + random.Next(8); flips > 0 && copy.Length > 0; flips--)
        {
            copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        }

        return copy;
    }

    private static byte[] Truncate(byte[] bytes, Random random) => bytes[..random.Next(bytes.Length + 1)];

    private static byte[] DeleteSpan(byte[] bytes, Random random)
    {
        var start = random.Next(bytes.Length + 1);
        var length = Math.Min(random.Next(1, 64), bytes.Length - start);
        return [.. bytes[..start], .. bytes[(start + length)..]];
    }

    private static byte[] DuplicateSpan(byte[] bytes, Random random)
    {
        var start = random.Next(bytes.Length + 1);
        var length = Math.Min(random.Next(1, 200), bytes.Length - start);
        var at = random.Next(bytes.Length + 1);
        var span = bytes[start..(start + length)];
        return [.. bytes[..at], .. span, .. bytes[at..]];
    }

    /// <summary>A value of one JSON type where the model expects another (the tree is kept otherwise).</summary>
    private static byte[] SwapType(byte[] bytes, Random random) => ReplaceNode(bytes, random, _ => (random.Next(10) switch
    {
        0 => JsonValue.Create("text"),
        1 => JsonValue.Create(42),
        2 => JsonValue.Create(true),
        3 => null,
        4 => new JsonArray(),
        5 => new JsonObject(),
        6 => new JsonArray((JsonNode?)null),
        7 => new JsonObject { ["unexpected"] = 1 },
        8 => JsonValue.Create(-1),
        _ => new JsonArray(JsonValue.Create("a"), JsonValue.Create(1)),
    }, null));

    /// <summary>A value replaced by arrays or objects nested up to far beyond the reader's depth limit.</summary>
    private static byte[] NestDeep(byte[] bytes, Random random)
    {
        int[] depths = [2, 20, 63, 64, 65, 1000, 100_000];
        var depth = depths[random.Next(depths.Length)];
        var nested = random.Next(2) == 0
            ? new string('[', depth) + "1" + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
        return ReplaceNode(bytes, random, _ => (null, nested));
    }

    private static byte[] HugeNumber(byte[] bytes, Random random)
    {
        string[] numbers = ["1e400", "-1e400", "99999999999999999999999999", "2147483648", "-2147483649", "1.5", "-0", "1e-7", "1" + new string('0', 400), "0x10", "NaN", "Infinity"];
        var text = Encoding.UTF8.GetString(bytes);
        var matches = NumberToken().Matches(text);
        if (matches.Count == 0)
        {
            return bytes;
        }

        var match = matches[random.Next(matches.Count)];
        return Encoding.UTF8.GetBytes(string.Concat(text.AsSpan(0, match.Index), numbers[random.Next(numbers.Length)], text.AsSpan(match.Index + match.Length)));
    }

    /// <summary>Invalid UTF-8 (stray continuation, overlong, surrogate, beyond U+10FFFF, cut sequence, NUL), mostly inside strings.</summary>
    private static byte[] InvalidUtf8(byte[] bytes, Random random)
    {
        byte[][] sequences = [[0xFF], [0x80], [0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x00]];
        var at = random.Next(bytes.Length + 1);
        var quote = Array.IndexOf(bytes, (byte)'"', at);
        if (quote >= 0 && random.Next(4) != 0)
        {
            at = quote + 1;
        }

        return [.. bytes[..at], .. sequences[random.Next(sequences.Length)], .. bytes[at..]];
    }

    private static byte[] RemoveProperty(byte[] bytes, Random random)
    {
        var root = TryParse(bytes);
        var objects = Nodes(root).OfType<JsonObject>().Where(o => o.Count > 0).ToList();
        if (objects.Count == 0)
        {
            return FlipBytes(bytes, random);
        }

        var target = objects[random.Next(objects.Count)];
        target.Remove(target.ElementAt(random.Next(target.Count)).Key);
        return Encoding.UTF8.GetBytes(root!.ToJsonString());
    }

    /// <summary>An array element twice: duplicate names, priorities, host names, ports.</summary>
    private static byte[] DuplicateElement(byte[] bytes, Random random)
    {
        var root = TryParse(bytes);
        var arrays = Nodes(root).OfType<JsonArray>().Where(a => a.Count > 0).ToList();
        if (arrays.Count == 0)
        {
            return DuplicateSpan(bytes, random);
        }

        var target = arrays[random.Next(arrays.Count)];
        target.Add(target[random.Next(target.Count)]?.DeepClone());
        return Encoding.UTF8.GetBytes(root!.ToJsonString());
    }

    /// <summary>Well-typed but odd values: empty, huge, control characters, path tricks, out-of-range numbers.</summary>
    private static byte[] OddValue(byte[] bytes, Random random) => ReplaceNode(bytes, random, node => (node switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => JsonValue.Create(random.Next(9) switch
        {
            0 => string.Empty,
            1 => " ",
            2 => new string('a', 70_000),
            3 => "\u0000\u0001",
            4 => "../../../../etc/passwd",
            5 => "*",
            6 => "300.1.1.1/33",
            7 => "::ffff:127.0.0.1/200",
            _ => "ünïcødé.☃.example",
        }),
        JsonValue value when value.GetValueKind() == JsonValueKind.Number => JsonValue.Create(random.Next(5) switch
        {
            0 => 0,
            1 => -1,
            2 => int.MaxValue,
            3 => int.MinValue,
            _ => 65536,
        }),
        _ => node?.DeepClone(),
    }, null));

    /// <summary>Replaces one random node of the parsed file; a file that no longer parses gets byte flips instead.</summary>
    private static byte[] ReplaceNode(byte[] bytes, Random random, Func<JsonNode?, (JsonNode? Node, string? RawJson)> replacement)
    {
        var root = TryParse(bytes);
        if (root is null)
        {
            return FlipBytes(bytes, random);
        }

        var slots = new List<(JsonNode Parent, string? Name, int Index)>();
        CollectSlots(root, slots);
        if (slots.Count == 0)
        {
            return FlipBytes(bytes, random);
        }

        var (parent, name, index) = slots[random.Next(slots.Count)];
        var current = name is not null ? parent[name] : parent[index];
        var (node, raw) = replacement(current);
        const string Marker = "\"__fuzz_marker__\"";
        var value = raw is null ? node : JsonNode.Parse(Marker);
        if (name is not null)
        {
            parent[name] = value;
        }
        else
        {
            parent[index] = value;
        }

        var text = root.ToJsonString();
        return Encoding.UTF8.GetBytes(raw is null ? text : text.Replace(Marker, raw, StringComparison.Ordinal));
    }

    private static void CollectSlots(JsonNode node, List<(JsonNode, string?, int)> slots)
    {
        if (node is JsonObject obj)
        {
            foreach (var (key, child) in obj)
            {
                slots.Add((obj, key, -1));
                if (child is not null)
                {
                    CollectSlots(child, slots);
                }
            }
        }
        else if (node is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                slots.Add((array, null, i));
                if (array[i] is { } child)
                {
                    CollectSlots(child, slots);
                }
            }
        }
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode? node)
    {
        if (node is null)
        {
            yield break;
        }

        yield return node;
        IEnumerable<JsonNode?> children = node switch
        {
            JsonObject obj => obj.Select(p => p.Value),
            JsonArray array => array,
            _ => [],
        };
        foreach (var child in children)
        {
            foreach (var descendant in Nodes(child))
            {
                yield return descendant;
            }
        }
    }

    private static JsonNode? TryParse(byte[] bytes)
    {
        try
        {
            // JsonNode decodes property names lazily: one walk surfaces invalid UTF-8 here, not in a mutator.
            var root = JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            _ = Nodes(root).Count();
            return root;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    private static HashSet<string> TopLevelPropertyNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { "$schema" };
        foreach (var property in typeof(GatewayConfig).GetProperties())
        {
            names.Add(JsonNamingPolicy.CamelCase.ConvertName(property.Name));
        }

        return names;
    }

    /// <summary>The first segment of a path: <c>$</c>, or the top-level property name before any '.' or '['.</summary>
    [GeneratedRegex(@"^(\$|[A-Za-z$][A-Za-z0-9]*)(?=$|[.\[])")]
    private static partial Regex FirstSegment();

    [GeneratedRegex(@"(?<=[:\[,]\s*)-?\d+(\.\d+)?([eE][+-]?\d+)?")]
    private static partial Regex NumberToken();
}
