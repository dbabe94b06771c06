using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AseGateway.Tests.Configuration;

/// <summary>
/// Just enough of a JSON Schema 2020-12 validator to check configurations against ase.schema.json without a package:
/// the keywords that schema uses, with <c>$ref</c> to local <c>$defs</c> only. An unknown keyword throws, so a schema
/// that starts using a new one cannot pass unchecked.
/// </summary>
internal sealed class JsonSchemaSubset
{
    // Annotations and keywords read through their neighbours (then/else by if, the definitions through $ref).
    private static readonly HashSet<string> Ignored = ["$schema", "$id", "title", "description", "default", "examples", "$defs", "then", "else"];

    private readonly JsonElement _root;

    public JsonSchemaSubset(JsonElement root) => _root = root;

    /// <summary>Every violation, as <c>path: keyword</c> with configuration-style paths (<c>apps[0].run</c>, <c>$</c> for the root).</summary>
    public List<string> Validate(JsonElement instance)
    {
        var errors = new List<string>();
        Check(_root, instance, "$", errors);
        return errors;
    }

    private void Check(JsonElement schema, JsonElement value, string path, List<string> errors)
    {
        if (schema.ValueKind is JsonValueKind.True)
        {
            return;
        }

        if (schema.ValueKind is JsonValueKind.False)
        {
            errors.Add($"{path}: false");
            return;
        }

        foreach (var keyword in schema.EnumerateObject())
        {
            var k = keyword.Value;
            var ok = keyword.Name switch
            {
                "$ref" => CheckRef(k, value, path, errors),
                "type" => HasType(value, k.GetString()!),
                "enum" => k.EnumerateArray().Any(e => JsonElement.DeepEquals(e, value)),
                "const" => JsonElement.DeepEquals(k, value),
                "minimum" => value.ValueKind is not JsonValueKind.Number || value.GetDecimal() >= k.GetDecimal(),
                "maximum" => value.ValueKind is not JsonValueKind.Number || value.GetDecimal() <= k.GetDecimal(),
                "minLength" => value.ValueKind is not JsonValueKind.String || value.GetString()!.Length >= k.GetInt32(),
                "maxLength" => value.ValueKind is not JsonValueKind.String || value.GetString()!.Length <= k.GetInt32(),
                "pattern" => value.ValueKind is not JsonValueKind.String || Regex.IsMatch(value.GetString()!, k.GetString()!, RegexOptions.None, TimeSpan.FromSeconds(1)),
                "minItems" => value.ValueKind is not JsonValueKind.Array || value.GetArrayLength() >= k.GetInt32(),
                "maxItems" => value.ValueKind is not JsonValueKind.Array || value.GetArrayLength() <= k.GetInt32(),
                "uniqueItems" => value.ValueKind is not JsonValueKind.Array || !k.GetBoolean() || AllDistinct(value),
                "required" => value.ValueKind is not JsonValueKind.Object || k.EnumerateArray().All(name => value.TryGetProperty(name.GetString()!, out _)),
                "items" => CheckItems(k, value, path, errors),
                "contains" => value.ValueKind is not JsonValueKind.Array || value.EnumerateArray().Any(item => Passes(k, item)),
                "properties" => CheckProperties(k, value, path, errors),
                "additionalProperties" => CheckAdditional(schema, k, value, path, errors),
                "propertyNames" => value.ValueKind is not JsonValueKind.Object || value.EnumerateObject().All(p => Passes(k, JsonSerializer.SerializeToElement(p.Name))),
                "allOf" => CheckAll(k, value, path, errors),
                "anyOf" => k.EnumerateArray().Any(s => Passes(s, value)),
                "oneOf" => k.EnumerateArray().Count(s => Passes(s, value)) == 1,
                "not" => !Passes(k, value),
                "if" => CheckIf(schema, k, value, path, errors),
                _ when Ignored.Contains(keyword.Name) => true,
                _ => throw new NotSupportedException($"JsonSchemaSubset does not know the keyword '{keyword.Name}' (at {path}): teach it, or the schema goes unchecked"),
            };

            if (!ok)
            {
                errors.Add($"{path}: {keyword.Name}");
            }
        }
    }

    private bool Passes(JsonElement schema, JsonElement value)
    {
        var errors = new List<string>();
        Check(schema, value, "$", errors);
        return errors.Count == 0;
    }

    private bool CheckRef(JsonElement reference, JsonElement value, string path, List<string> errors)
    {
        const string Prefix = "#/$defs/";
        var target = reference.GetString()!;
        if (!target.StartsWith(Prefix, StringComparison.Ordinal) || !_root.GetProperty("$defs").TryGetProperty(target[Prefix.Length..], out var definition))
        {
            throw new NotSupportedException($"unresolvable $ref '{target}' at {path}");
        }

        Check(definition, value, path, errors);
        return true;
    }

    private bool CheckItems(JsonElement schema, JsonElement value, string path, List<string> errors)
    {
        if (value.ValueKind is JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in value.EnumerateArray())
            {
                Check(schema, item, $"{path}[{i++}]", errors);
            }
        }

        return true;
    }

    private bool CheckProperties(JsonElement properties, JsonElement value, string path, List<string> errors)
    {
        if (value.ValueKind is JsonValueKind.Object)
        {
            foreach (var property in value.EnumerateObject())
            {
                if (properties.TryGetProperty(property.Name, out var schema))
                {
                    Check(schema, property.Value, Child(path, property.Name), errors);
                }
            }
        }

        return true;
    }

    private bool CheckAdditional(JsonElement schema, JsonElement additional, JsonElement value, string path, List<string> errors)
    {
        if (value.ValueKind is JsonValueKind.Object)
        {
            var hasDeclared = schema.TryGetProperty("properties", out var declared);
            foreach (var property in value.EnumerateObject())
            {
                if (!hasDeclared || !declared.TryGetProperty(property.Name, out _))
                {
                    Check(additional, property.Value, Child(path, property.Name), errors);
                }
            }
        }

        return true;
    }

    private bool CheckAll(JsonElement schemas, JsonElement value, string path, List<string> errors)
    {
        foreach (var schema in schemas.EnumerateArray())
        {
            Check(schema, value, path, errors);
        }

        return true;
    }

    private bool CheckIf(JsonElement schema, JsonElement condition, JsonElement value, string path, List<string> errors)
    {
        if (schema.TryGetProperty(Passes(condition, value) ? "then" : "else", out var branch))
        {
            Check(branch, value, path, errors);
        }

        return true;
    }

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind is JsonValueKind.Object,
        "array" => value.ValueKind is JsonValueKind.Array,
        "string" => value.ValueKind is JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind is JsonValueKind.Null,
        "number" => value.ValueKind is JsonValueKind.Number,
        "integer" => value.ValueKind is JsonValueKind.Number && decimal.TryParse(value.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == decimal.Truncate(d),
        _ => throw new NotSupportedException($"unknown type '{type}'"),
    };

    private static bool AllDistinct(JsonElement array)
    {
        var items = array.EnumerateArray().ToList();
        for (var i = 0; i < items.Count; i++)
        {
            for (var j = i + 1; j < items.Count; j++)
            {
                if (JsonElement.DeepEquals(items[i], items[j]))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static string Child(string path, string name) => path == "$" ? name : $"{path}.{name}";
}
