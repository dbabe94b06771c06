using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using AseGateway.Configuration;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Configuration;

/// <summary>Keeps the published JSON Schema and the configuration model in step, in both directions.</summary>
public sealed class SchemaModelTests
{
    [Fact]
    public void Schema_DescribesExactlyTheModel()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(RepoPaths.Combine("src", "AseGateway", "ase.schema.json")));
        var problems = new List<string>();

        Compare(typeof(GatewayConfig), schema.RootElement, schema.RootElement, "$", problems);

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void ShippedConfigurations_AreValid()
    {
        foreach (var name in new[] { "quickstart.json" })
        {
            var bytes = File.ReadAllBytes(RepoPaths.Combine("src", "AseGateway", name));

            // Relative to the test output, where the sample app sits as it does beside the gateway.
            var loaded = ConfigLoader.Load(bytes, name, AppContext.BaseDirectory);

            Assert.True(loaded.IsValid, $"{name}: {string.Join("; ", loaded.Errors)}");
        }
    }

    private static void Compare(Type type, JsonElement node, JsonElement root, string path, List<string> problems)
    {
        node = Resolve(node, root);
        if (!node.TryGetProperty("properties", out var properties))
        {
            problems.Add($"{path}: the schema has no properties for {type.Name}");
            return;
        }

        if (!node.TryGetProperty("additionalProperties", out var additional) || additional.ValueKind != JsonValueKind.False)
        {
            problems.Add($"{path}: must say additionalProperties: false (the loader is strict)");
        }

        var modelNames = new HashSet<string>();
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);
            modelNames.Add(name);
            if (!properties.TryGetProperty(name, out var propertySchema))
            {
                problems.Add($"{path}.{name}: in the model, missing from the schema");
                continue;
            }

            CompareValue(property.PropertyType, propertySchema, root, $"{path}.{name}", problems);
        }

        foreach (var schemaProperty in properties.EnumerateObject())
        {
            if (!modelNames.Contains(schemaProperty.Name))
            {
                problems.Add($"{path}.{schemaProperty.Name}: in the schema, missing from the model");
            }
        }
    }

    private static void CompareValue(Type type, JsonElement node, JsonElement root, string path, List<string> problems)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        node = Resolve(node, root);
        if (type.IsEnum)
        {
            var names = node.TryGetProperty("enum", out var values) ? values.EnumerateArray().Select(v => v.GetString()).ToList() : [];
            if (!names.SequenceEqual(Enum.GetNames(type)))
            {
                problems.Add($"{path}: enum [{string.Join(", ", names)}] differs from {type.Name} [{string.Join(", ", Enum.GetNames(type))}]");
            }
        }
        else if (type == typeof(string))
        {
            // loadBalancing is a string in the model and an enum of policy names in the schema.
            if (!IsType(node, "string") && !node.TryGetProperty("enum", out _))
            {
                problems.Add($"{path}: expected type string");
            }
        }
        else if (type == typeof(int))
        {
            Expect(node, "integer", path, problems);
        }
        else if (type == typeof(bool))
        {
            Expect(node, "boolean", path, problems);
        }
        else if (type.IsArray)
        {
            Expect(node, "array", path, problems);
            if (node.TryGetProperty("items", out var items))
            {
                CompareValue(type.GetElementType()!, items, root, $"{path}[]", problems);
            }
        }
        else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            Expect(node, "object", path, problems);
            if (node.TryGetProperty("additionalProperties", out var values))
            {
                CompareValue(type.GetGenericArguments()[1], values, root, $"{path}.*", problems);
            }
            else
            {
                problems.Add($"{path}: a map needs additionalProperties describing its values");
            }
        }
        else
        {
            Compare(type, node, root, path, problems);
        }
    }

    private static void Expect(JsonElement node, string type, string path, List<string> problems)
    {
        if (!IsType(node, type))
        {
            problems.Add($"{path}: expected type {type}");
        }
    }

    private static bool IsType(JsonElement node, string type) => node.TryGetProperty("type", out var t) && t.GetString() == type;

    private static JsonElement Resolve(JsonElement node, JsonElement root)
    {
        if (node.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!["#/$defs/".Length..];
            return root.GetProperty("$defs").GetProperty(name);
        }

        return node;
    }
}
