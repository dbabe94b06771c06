using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AseGateway.Configuration;

/// <summary>
/// Reads configuration bytes strictly: parse, then validate, collecting every validation error. A file that is
/// missing, empty or cut short is an error — never an environment with no apps.
/// </summary>
public static partial class ConfigLoader
{
    /// <param name="sha256">The content's <see cref="Hash"/>, when the caller has already taken it.</param>
    public static ConfigLoadResult Load(ReadOnlySpan<byte> utf8Json, string sourceName, string baseDirectory, string? sha256 = null)
    {
        var hash = sha256 ?? Hash(utf8Json);
        if (IsBlank(utf8Json))
        {
            return new ConfigLoadResult(null, [new ConfigError("$", "the file is empty")], hash, sourceName, baseDirectory);
        }

        // Editors on Windows save UTF-8 with a byte order mark; the JSON reader does not skip it by itself.
        if (utf8Json.StartsWith("\uFEFF"u8))
        {
            utf8Json = utf8Json[3..];
        }

        GatewayConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(utf8Json, ConfigJsonContext.Default.GatewayConfig);
        }
        catch (JsonException ex)
        {
            return new ConfigLoadResult(null, [Describe(ex)], hash, sourceName, baseDirectory);
        }

        if (config is null)
        {
            return new ConfigLoadResult(null, [new ConfigError("$", "the file must hold a JSON object, not null")], hash, sourceName, baseDirectory);
        }

        var errors = ConfigValidator.Validate(config, baseDirectory);
        return new ConfigLoadResult(errors.Count == 0 ? config : null, errors, hash, sourceName, baseDirectory);
    }

    /// <summary>Lower-case hex SHA-256: the configuration's version, used for reload skipping and as the API's ETag.</summary>
    public static string Hash(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>A result for a configuration that could not even be read.</summary>
    public static ConfigLoadResult Failed(ConfigError error, string sourceName, string baseDirectory) =>
        new(null, [error], string.Empty, sourceName, baseDirectory);

    public static string Serialize(GatewayConfig config) => JsonSerializer.Serialize(config, ConfigJsonContext.Default.GatewayConfig);

    private static bool IsBlank(ReadOnlySpan<byte> utf8)
    {
        // A UTF-8 byte order mark followed by nothing is as empty as nothing.
        if (utf8.StartsWith("\uFEFF"u8))
        {
            utf8 = utf8[3..];
        }

        return utf8.Trim(" \t\r\n"u8).IsEmpty;
    }

    /// <summary>Turns System.Text.Json's messages, written for developers, into sentences for operators.</summary>
    private static ConfigError Describe(JsonException ex)
    {
        var path = ToConfigPath(ex.Path);
        var where = ex.LineNumber is { } line ? $" (line {line + 1}, column {ex.BytePositionInLine.GetValueOrDefault() + 1})" : string.Empty;
        var message = ex.Message;

        if (UnmappedProperty().Match(message) is { Success: true } unmapped)
        {
            return new ConfigError(path, $"unknown property '{unmapped.Groups[1].Value}'{where}");
        }

        if (DuplicateProperty().Match(message) is { Success: true } duplicate)
        {
            return new ConfigError(path, $"property '{duplicate.Groups[1].Value}' appears more than once{where}");
        }

        // A repeated key of a map (run.environment, serviceTags, headers): System.Text.Json does not name it, the path does.
        if (message.StartsWith("Duplicate properties", StringComparison.Ordinal))
        {
            return new ConfigError(path, $"property '{LastName(ex.Path)}' appears more than once{where}");
        }

        if (NotConvertible().IsMatch(message))
        {
            // System.Text.Json names the type that holds the value, not the value's own type: find that from the path.
            var expected = TypeAt(ex.Path) is { } type ? ExpectedKind(type) : "has the wrong type";
            return new ConfigError(path, $"{expected}{where}");
        }

        // Syntax errors: keep the reader's own words, drop its trailing "Path: … | LineNumber: …" noise.
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        var text = cut > 0 ? message[..cut] : message;
        if (ex.InnerException is not null && ex.InnerException.Message.Length > 0)
        {
            text = ex.InnerException.Message;
            cut = text.IndexOf(" LineNumber:", StringComparison.Ordinal);
            text = cut > 0 ? text[..cut] : text;
        }

        return new ConfigError(path, $"invalid JSON{where}: {text.TrimEnd('.', ' ')}");
    }

    private static string ExpectedKind(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum)
        {
            return $"expected one of: {string.Join(", ", Enum.GetNames(type))}";
        }

        if (type.IsArray)
        {
            return "expected an array";
        }

        return type == typeof(int) ? "expected a whole number"
            : type == typeof(bool) ? "expected true or false"
            : type == typeof(string) ? "expected a string"
            : type == typeof(Dictionary<string, string>) ? "expected an object of string values"
            : "expected an object";
    }

    /// <summary>
    /// The model type at a System.Text.Json path such as <c>$.frontEnd.listeners[0].port</c>, <c>$.apps[0].run.environment.HOME</c>
    /// or <c>$.apps[0].run.environment['my.var']</c> (a map's key is a segment too: it leads to the map's value type).
    /// </summary>
    private static Type? TypeAt(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath))
        {
            return null;
        }

        Type? type = typeof(GatewayConfig);
        var i = jsonPath[0] == '$' ? 1 : 0;
        while (type is not null && i < jsonPath.Length)
        {
            if (jsonPath[i] == '.')
            {
                var end = jsonPath.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? jsonPath.Length : end;
                type = MemberType(type, jsonPath[(i + 1)..end]);
                i = end;
            }
            else if (jsonPath.AsSpan(i).StartsWith("['"))
            {
                var end = jsonPath.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    return null;
                }

                type = MemberType(type, jsonPath[(i + 2)..end]);
                i = end + 2;
            }
            else if (jsonPath[i] == '[' && jsonPath.IndexOf(']', i) is var close and > 0)
            {
                type = type.IsArray ? type.GetElementType() : null;
                i = close + 1;
            }
            else
            {
                return null;
            }
        }

        return type;
    }

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "The configuration records are rooted by the source-generated serializer context.")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The configuration records are rooted by the source-generated serializer context.")]
    private static Type? MemberType(Type type, string name)
    {
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return type.GetGenericArguments()[1];
        }

        var property = Array.Find(type.GetProperties(), p => string.Equals(JsonName(p), name, StringComparison.Ordinal));
        return property is null ? null : Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
    }

    /// <summary>The last property name of a System.Text.Json path: <c>A</c> of <c>$.x.A</c> or of <c>$.x['A']</c>.</summary>
    private static string LastName(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath))
        {
            return "$";
        }

        if (jsonPath.EndsWith("']", StringComparison.Ordinal) && jsonPath.LastIndexOf("['", StringComparison.Ordinal) is var open and >= 0)
        {
            return jsonPath[(open + 2)..^2];
        }

        return jsonPath[(jsonPath.LastIndexOf('.') + 1)..];
    }

    private static string JsonName(System.Reflection.PropertyInfo property) =>
        property.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonPropertyNameAttribute), false) is [System.Text.Json.Serialization.JsonPropertyNameAttribute named]
            ? named.Name
            : JsonNamingPolicy.CamelCase.ConvertName(property.Name);

    internal static string ToConfigPath(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$")
        {
            return "$";
        }

        // System.Text.Json ends the path of a property named "" with a bare '.'; an operator reads ['']. (Found by the fuzzer.)
        if (jsonPath.EndsWith('.'))
        {
            return jsonPath == "$." ? "['']" : ToConfigPath(jsonPath[..^1]) + "['']";
        }

        return jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath;
    }

    [GeneratedRegex("The JSON property '(.*?)' could not be mapped")]
    private static partial Regex UnmappedProperty();

    [GeneratedRegex("[Dd]uplicate .*?property '(.+?)'")]
    private static partial Regex DuplicateProperty();

    [GeneratedRegex("could not be converted to ")]
    private static partial Regex NotConvertible();
}
