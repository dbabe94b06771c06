using System.Text.Json;
using System.Text.Json.Serialization;

namespace AseGateway.Configuration;

/// <summary>
/// Enum values by name only: the stock converter also takes numbers ("protocol": 1) and comma lists, which in a
/// hand-written file are mistakes, not intentions.
/// </summary>
internal sealed class StrictEnumConverter<T> : JsonConverter<T>
    where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String
            && reader.GetString() is { } text
            && !text.Contains(',', StringComparison.Ordinal)
            && Enum.TryParse<T>(text, ignoreCase: true, out var value)
            && Enum.IsDefined(value)
            && !char.IsDigit(text.TrimStart()[0]) && text.TrimStart()[0] != '-')
        {
            return value;
        }

        throw new JsonException($"The JSON value could not be converted to {typeof(T)}.");
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
