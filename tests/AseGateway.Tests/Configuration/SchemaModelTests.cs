using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using AseGateway.Configuration;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Configuration;

/// <summary>
/// Keeps the published JSON Schema (src/AseGateway/ase.schema.json) and the configuration model in step, in both
/// directions, and checks that the schema accepts the files the loader accepts and rejects what it rejects.
/// </summary>
public sealed class SchemaModelTests
{
    private static readonly string SchemaPath = RepoPaths.Combine("src", "AseGateway", "ase.schema.json");

    private static readonly JsonDocumentOptions Lenient = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    [Fact]
    public void Schema_DescribesExactlyTheModel()
    {
        using var schema = LoadSchema();
        var problems = new List<string>();

        CompareObject(typeof(GatewayConfig), schema.RootElement, schema.RootElement, "$", problems);

        Assert.True(problems.Count == 0, $"ase.schema.json and the model differ:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
    }

    [Fact]
    public void Schema_IsWellFormed_RefsResolveAndRequiredPropertiesExist()
    {
        using var schema = LoadSchema();
        var root = schema.RootElement;
        var problems = new List<string>();
        var used = new HashSet<string>();

        Assert.Equal("https://json-schema.org/draft/2020-12/schema", root.GetProperty("$schema").GetString());
        Walk(root, "#", root, used, problems);
        foreach (var definition in root.GetProperty("$defs").EnumerateObject())
        {
            if (!used.Contains(definition.Name))
            {
                problems.Add($"#/$defs/{definition.Name}: defined but never used");
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Schema_LoadBalancing_IsTheYarpPolicyNames()
    {
        using var schema = LoadSchema();
        var app = Resolve(schema.RootElement.GetProperty("properties").GetProperty("apps").GetProperty("items"), schema.RootElement);
        var names = app.GetProperty("properties").GetProperty("loadBalancing").GetProperty("enum").EnumerateArray().Select(e => e.GetString());

        Assert.Equal(ConfigDefaults.LoadBalancingPolicyNames, names);
    }

    [Theory]
    [InlineData("src/AseGateway/quickstart.json")]
    [InlineData("src/AseGateway/container.ase.json")]
    [InlineData("full")]
    public void Schema_ValidConfiguration_IsAccepted(string file)
    {
        using var schema = LoadSchema();
        var json = file == "full" ? ConfigLoaderTests.Full : File.ReadAllText(RepoPaths.Combine(file.Split('/')));
        using var document = JsonDocument.Parse(json, Lenient);

        var errors = new JsonSchemaSubset(schema.RootElement).Validate(document.RootElement);

        Assert.True(errors.Count == 0, $"{file}: {string.Join("; ", errors)}");
    }

    [Theory]
    [InlineData("\"port\": 8443", "\"port\": 70000", "frontEnd.listeners[1].port: maximum")]
    [InlineData("\"port\": 8080", "\"port\": \"8080\"", "frontEnd.listeners[0].port: type")]
    [InlineData("\"protocol\": \"Http\"", "\"protocol\": \"Gopher\"", "frontEnd.listeners[0].protocol: enum")]
    [InlineData("\"certificates\": [ { \"path\": \"certs/dev/localhost.pfx\", \"default\": true } ]", "\"certificates\": []", "frontEnd.tls.certificates: minItems")]
    [InlineData("\"name\": \"shop\",", "\"name\": \"shop\", \"colour\": \"blue\",", "apps[1].colour: false")]
    [InlineData("\"name\": \"contoso-ase\"", "\"name\": \"contoso ase\"", "name: pattern")]
    [InlineData("{ \"name\": \"WP1\", \"workerSize\": \"Small\", \"workerCount\": 2 },",
        "{ \"name\": \"WP1\", \"workerSize\": \"Small\", \"workerCount\": 2 }, { \"name\": \"WP3\", \"workerCount\": 1 }, { \"name\": \"WP4\", \"workerCount\": 1 },",
        "workerPools: maxItems")]
    [InlineData("\"workerPool\": \"WP1\", \"instanceCount\": 2", "\"workerPool\": \"WP1\", \"instanceCount\": 0", "plans[0].instanceCount: minimum")]
    [InlineData("\"healthCheck\": { \"maxPingFailures\": 2 }", "\"healthCheck\": { \"maxPingFailures\": 1 }", "apps[0].healthCheck.maxPingFailures: minimum")]
    [InlineData("\"loadBalancing\": \"LeastRequests\"", "\"loadBalancing\": \"Fastest\"", "apps[1].loadBalancing: enum")]
    [InlineData("\"healthCheckPath\": \"/healthz\"", "\"healthCheckPath\": \"healthz\"", "apps[0].healthCheckPath: pattern")]
    [InlineData("\"GREETING\": \"hi\"", "\"PORT\": \"80\"", "apps[0].run.environment: propertyNames")]
    [InlineData("\"X-Forwarded-Host\": [", "\"X-Original-Host\": [", "apps[0].accessRestrictions.rules[1].headers: propertyNames")]
    [InlineData("\"serviceTag\": \"VirtualNetwork\",", "\"serviceTag\": \"VirtualNetwork\", \"ipAddress\": \"10.0.0.1\",", "apps[0].accessRestrictions.rules[1]: not")]
    [InlineData("\"priority\": 200, \"access\": \"Deny\"", "\"priority\": 50, \"access\": \"Deny\"", "networkSecurityGroup.securityRules[1].priority: minimum")]
    [InlineData("\"sourceAddressPrefix\": \"203.0.113.0/24\", ", "", "networkSecurityGroup.securityRules[1]: oneOf")]
    [InlineData("\"protocol\": \"*\"", "\"protocol\": \"Gre\"", "networkSecurityGroup.securityRules[1].protocol: pattern")]
    [InlineData("\"VirtualNetwork\": [ \"10.0.0.0/16\", \"127.0.0.0/8\" ]", "\"Internet\": [ \"0.0.0.0/0\" ]", "networkSecurityGroup.serviceTags: propertyNames")]
    [InlineData("\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", ", "", "management.apiKeys[0]: oneOf")]
    [InlineData("\"port\": 9090", "\"port\": -1", "management.port: minimum")]
    [InlineData("\"rateLimitThreshold\": 100,", "", "wafPolicies[0].customRules[1]: required")]
    [InlineData("\"priority\": 3,", "\"priority\": 101,", "wafPolicies[0].customRules[1].priority: maximum")]
    [InlineData("\"onError\": \"Allow\"", "\"onError\": \"Log\"", "wafPolicies[0].hooks[0].onError: not")]
    [InlineData("\"selector\": \"User-Agent\"", "\"selector\": \"\"", "wafPolicies[0].customRules[0].matchConditions[0].matchVariables[0].selector: minLength")]
    [InlineData("\"matchValues\": [ \"evilbot\" ], ", "", "wafPolicies[0].customRules[0].matchConditions[0]: required")]
    [InlineData("\"selector\": \"session\",", "", "wafPolicies[0].managedRules.exclusions[0]: required")]
    [InlineData("\"maxRequestBodySizeInKb\": 128,", "\"maxRequestBodySizeInKb\": 4,", "wafPolicies[0].policySettings.maxRequestBodySizeInKb: minimum")]
    public void Schema_InvalidConfiguration_IsRejectedLikeTheLoaderRejectsIt(string find, string replace, string expected)
    {
        using var schema = LoadSchema();
        var json = ConfigLoaderTests.Mutate(find, replace);
        using var document = JsonDocument.Parse(json, Lenient);

        var schemaErrors = new JsonSchemaSubset(schema.RootElement).Validate(document.RootElement);
        var loaderErrors = ConfigLoader.Load(System.Text.Encoding.UTF8.GetBytes(json), "test", RepoPaths.Root).Errors;

        Assert.NotEmpty(loaderErrors);
        Assert.Contains(expected, schemaErrors);
    }

    [Fact]
    public void ShippedQuickstart_LoadsWithoutErrors()
    {
        var bytes = File.ReadAllBytes(RepoPaths.Combine("src", "AseGateway", "quickstart.json"));

        // Relative to the test output, where the sample app sits as it does beside the gateway.
        var loaded = ConfigLoader.Load(bytes, "quickstart.json", AppContext.BaseDirectory);

        Assert.True(loaded.IsValid, string.Join("; ", loaded.Errors));
    }

    private static JsonDocument LoadSchema() => JsonDocument.Parse(File.ReadAllText(SchemaPath));

    private static void CompareObject(Type type, JsonElement node, JsonElement root, string path, List<string> problems)
    {
        node = Resolve(node, root);
        ExpectType(node, "object", path, problems);
        if (!node.TryGetProperty("additionalProperties", out var additional) || additional.ValueKind != JsonValueKind.False)
        {
            problems.Add($"{path}: must say additionalProperties: false (the loader is strict)");
        }

        if (!node.TryGetProperty("properties", out var properties))
        {
            problems.Add($"{path}: the schema has no properties for {type.Name}");
            return;
        }

        var modelNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonIgnoreAttribute>() is { Condition: JsonIgnoreCondition.Always })
            {
                continue;
            }

            var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);
            modelNames.Add(name);
            var propertyPath = path == "$" ? name : $"{path}.{name}";
            if (!properties.TryGetProperty(name, out var propertySchema))
            {
                problems.Add($"{propertyPath}: {type.Name}.{property.Name} is in the model but not in the schema");
                continue;
            }

            if (!HasDescription(propertySchema) && !HasDescription(Resolve(propertySchema, root)))
            {
                problems.Add($"{propertyPath}: needs a description");
            }

            CompareValue(property.PropertyType, propertySchema, root, propertyPath, problems);
        }

        foreach (var schemaProperty in properties.EnumerateObject())
        {
            if (!modelNames.Contains(schemaProperty.Name))
            {
                var propertyPath = path == "$" ? schemaProperty.Name : $"{path}.{schemaProperty.Name}";
                problems.Add($"{propertyPath}: in the schema but {type.Name} has no such property (the loader would reject it)");
            }
        }
    }

    private static void CompareValue(Type type, JsonElement node, JsonElement root, string path, List<string> problems)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        node = Resolve(node, root);
        if (type.IsEnum)
        {
            ExpectType(node, "string", path, problems);
            var names = node.TryGetProperty("enum", out var values) ? values.EnumerateArray().Select(v => v.GetString()).ToList() : [];
            if (!names.SequenceEqual(Enum.GetNames(type)))
            {
                problems.Add($"{path}: enum [{string.Join(", ", names)}] differs from {type.Name} [{string.Join(", ", Enum.GetNames(type))}]");
            }
        }
        else if (type == typeof(string))
        {
            ExpectType(node, "string", path, problems);
        }
        else if (type == typeof(int))
        {
            ExpectType(node, "integer", path, problems);
        }
        else if (type == typeof(double))
        {
            ExpectType(node, "number", path, problems);
        }
        else if (type == typeof(bool))
        {
            ExpectType(node, "boolean", path, problems);
        }
        else if (type.IsArray)
        {
            ExpectType(node, "array", path, problems);
            if (node.TryGetProperty("items", out var items))
            {
                CompareValue(type.GetElementType()!, items, root, $"{path}[]", problems);
            }
            else
            {
                problems.Add($"{path}: an array needs items describing its elements");
            }
        }
        else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string))
        {
            ExpectType(node, "object", path, problems);
            if (node.TryGetProperty("additionalProperties", out var values) && values.ValueKind == JsonValueKind.Object)
            {
                CompareValue(type.GetGenericArguments()[1], values, root, $"{path}.*", problems);
            }
            else
            {
                problems.Add($"{path}: a map needs additionalProperties describing its values");
            }
        }
        else if (type.IsClass && type.Namespace == typeof(GatewayConfig).Namespace)
        {
            CompareObject(type, node, root, path, problems);
        }
        else
        {
            problems.Add($"{path}: the model uses {type.Name}, which this test cannot compare yet: teach it (and the schema) that type");
        }
    }

    private static void ExpectType(JsonElement node, string type, string path, List<string> problems)
    {
        if (!node.TryGetProperty("type", out var actual) || actual.GetString() != type)
        {
            problems.Add($"{path}: expected type {type}, the schema says {(node.TryGetProperty("type", out var t) ? t.GetRawText() : "nothing")}");
        }
    }

    private static bool HasDescription(JsonElement node) =>
        node.TryGetProperty("description", out var description) && !string.IsNullOrWhiteSpace(description.GetString());

    /// <summary>Follows <c>$ref</c>s to local definitions, however many.</summary>
    private static JsonElement Resolve(JsonElement node, JsonElement root)
    {
        for (var hops = 0; node.ValueKind == JsonValueKind.Object && node.TryGetProperty("$ref", out var reference); hops++)
        {
            Assert.True(hops < 16, $"$ref loop at {reference.GetString()}");
            node = root.GetProperty("$defs").GetProperty(reference.GetString()!["#/$defs/".Length..]);
        }

        return node;
    }

    /// <summary>Every sub-schema: $refs point at existing definitions and required names declared properties.</summary>
    private static void Walk(JsonElement node, string path, JsonElement root, HashSet<string> used, List<string> problems)
    {
        if (node.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in node.EnumerateArray())
            {
                Walk(item, $"{path}/{i++}", root, used, problems);
            }

            return;
        }

        if (node.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (node.TryGetProperty("$ref", out var reference))
        {
            var target = reference.GetString() ?? string.Empty;
            var name = target.StartsWith("#/$defs/", StringComparison.Ordinal) ? target["#/$defs/".Length..] : null;
            if (name is null || !root.GetProperty("$defs").TryGetProperty(name, out _))
            {
                problems.Add($"{path}: $ref '{target}' does not resolve to a local definition");
            }
            else
            {
                used.Add(name);
            }
        }

        // An object schema with its own properties and additionalProperties: false: required names must be among them.
        if (node.TryGetProperty("required", out var required) && node.TryGetProperty("properties", out var properties))
        {
            foreach (var name in required.EnumerateArray())
            {
                if (!properties.TryGetProperty(name.GetString()!, out _))
                {
                    problems.Add($"{path}: requires '{name.GetString()}', which it does not declare");
                }
            }
        }

        foreach (var child in node.EnumerateObject())
        {
            if (child.Name is "properties" or "$defs")
            {
                // Maps of name to sub-schema: a property may well be called "default" or "required".
                foreach (var member in child.Value.EnumerateObject())
                {
                    Walk(member.Value, $"{path}/{child.Name}/{member.Name}", root, used, problems);
                }
            }
            else if (child.Name is not ("enum" or "const" or "default" or "examples" or "required"))
            {
                Walk(child.Value, $"{path}/{child.Name}", root, used, problems);
            }
        }
    }
}
