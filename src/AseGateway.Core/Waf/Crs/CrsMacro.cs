using System.Text;

namespace AseGateway.Waf.Crs;

/// <summary>
/// Text with <c>%{COLLECTION.key}</c> references (macro expansion), split once at load time into literal and variable
/// parts so expanding it per request is a concatenation.
/// </summary>
internal sealed class CrsMacro
{
    private readonly (string Literal, string? Collection, string? Key)[] _parts;

    private CrsMacro(string text, (string, string?, string?)[] parts)
    {
        Text = text;
        _parts = parts;
    }

    public string Text { get; }

    public bool IsConstant => _parts.Length == 0 || (_parts.Length == 1 && _parts[0].Collection is null);

    public static CrsMacro Parse(string text, string where)
    {
        var parts = new List<(string, string?, string?)>();
        var i = 0;
        while (i < text.Length)
        {
            var start = text.IndexOf("%{", i, StringComparison.Ordinal);
            if (start < 0)
            {
                parts.Add((text[i..], null, null));
                break;
            }

            var end = text.IndexOf('}', start + 2);
            if (end < 0)
            {
                throw new SecLangException(where, $"unterminated macro in '{text}'");
            }

            if (start > i)
            {
                parts.Add((text[i..start], null, null));
            }

            var reference = text[(start + 2)..end];
            var dot = reference.IndexOf('.', StringComparison.Ordinal);
            var collection = (dot < 0 ? reference : reference[..dot]).ToUpperInvariant();
            var key = dot < 0 ? null : reference[(dot + 1)..];
            if (collection != "RULE" && !CrsTargets.TryGetVariable(collection, out _))
            {
                throw new SecLangException(where, $"unsupported macro variable '%{{{reference}}}'");
            }

            parts.Add((string.Empty, collection, key));
            i = end + 1;
        }

        return new CrsMacro(text, [.. parts]);
    }

    public string Expand(CrsTransaction transaction)
    {
        if (_parts.Length == 1 && _parts[0].Collection is null)
        {
            return _parts[0].Literal;
        }

        var sb = new StringBuilder();
        foreach (var (literal, collection, key) in _parts)
        {
            sb.Append(literal);
            if (collection is not null)
            {
                sb.Append(transaction.ResolveMacro(collection, key));
            }
        }

        return sb.ToString();
    }
}
