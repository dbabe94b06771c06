using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AseGateway.Control;

/// <summary>
/// Changes one number in a configuration file by editing its bytes in place, so that everything else — comments,
/// order, formatting, properties the change does not touch — stays exactly as the user wrote it. (Re-serialising
/// the parsed model would silently drop comments and reorder the file.)
/// </summary>
public static class JsonTextEditor
{
    /// <summary>Sets <c>{arrayName}[{index}].{property}</c> at the root of the document, adding the property if it is missing.</summary>
    /// <exception cref="InvalidOperationException">The document has no such array element.</exception>
    public static byte[] SetNumber(byte[] json, string arrayName, int index, string property, int value)
    {
        var offset = json.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        var reader = new Utf8JsonReader(json.AsSpan(offset), new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var text = Encoding.UTF8.GetBytes(value.ToString(CultureInfo.InvariantCulture));
        var inArray = false;
        var element = -1;
        long elementStart = -1;
        while (reader.Read())
        {
            if (!inArray)
            {
                if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(arrayName))
                {
                    reader.Read();
                    inArray = reader.TokenType == JsonTokenType.StartArray;
                    if (!inArray)
                    {
                        break;
                    }
                }

                continue;
            }

            if (reader.CurrentDepth == 1)
            {
                // End of the array: the element was not there.
                break;
            }

            if (reader.CurrentDepth == 2 && reader.TokenType == JsonTokenType.StartObject)
            {
                element++;
                elementStart = reader.TokenStartIndex;
                if (element != index)
                {
                    reader.Skip();
                }

                continue;
            }

            if (element == index && reader.CurrentDepth == 3 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(property))
            {
                reader.Read();
                var start = (int)reader.TokenStartIndex + offset;
                var length = reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray
                    ? throw new InvalidOperationException($"{arrayName}[{index}].{property} is not a number.")
                    : reader.ValueSpan.Length + (reader.TokenType == JsonTokenType.String ? 2 : 0);
                return Splice(json, start, length, text);
            }

            if (element == index && reader.CurrentDepth == 2 && reader.TokenType == JsonTokenType.EndObject)
            {
                // The element does not say it yet: add it first thing in the object.
                var insertAt = (int)elementStart + offset + 1;
                var empty = reader.TokenStartIndex == elementStart + 1 || IsBlankBetween(json, insertAt, (int)reader.TokenStartIndex + offset);
                var addition = Encoding.UTF8.GetBytes($" \"{property}\": {value.ToString(CultureInfo.InvariantCulture)}{(empty ? " " : ",")}");
                return Splice(json, insertAt, 0, addition);
            }
        }

        throw new InvalidOperationException($"The configuration has no {arrayName}[{index}].");
    }

    private static bool IsBlankBetween(byte[] json, int from, int to) => json.AsSpan(from, to - from).Trim(" \t\r\n"u8).IsEmpty;

    private static byte[] Splice(byte[] json, int start, int length, byte[] replacement)
    {
        var result = new byte[json.Length - length + replacement.Length];
        json.AsSpan(0, start).CopyTo(result);
        replacement.CopyTo(result.AsSpan(start));
        json.AsSpan(start + length).CopyTo(result.AsSpan(start + replacement.Length));
        return result;
    }
}
