using System.Text.Json.Serialization;

namespace AseGateway.Configuration;

/// <summary>
/// Source-generated (no reflection) and strict: an unknown property is an error that names it, comments and
/// trailing commas are allowed because people edit this file by hand.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    AllowDuplicateProperties = false,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GatewayConfig))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext;
