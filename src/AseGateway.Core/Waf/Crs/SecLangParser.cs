using System.Text;

namespace AseGateway.Waf.Crs;

/// <summary>One SecLang directive as written: its name, its arguments (quotes removed) and where it stands.</summary>
internal sealed record SecLangDirective(string Name, IReadOnlyList<string> Arguments, string File, int Line)
{
    public string Where => $"{System.IO.Path.GetFileName(File)}:{Line}";
}

/// <summary>A rule file that cannot be loaded: names the file and line, so an operator can fix it.</summary>
internal sealed class SecLangException(string where, string message) : Exception($"{where}: {message}")
{
    public string Where { get; } = where;
}

/// <summary>
/// Splits SecLang text into directives the way Apache reads ModSecurity configuration: a trailing backslash continues
/// the line, '#' starts a comment line, arguments are separated by blanks and may be double- or single-quoted; inside
/// quotes only <c>\"</c> (or <c>\'</c>) and <c>\\</c> are escapes, every other backslash is kept for the regex engine.
/// </summary>
internal static class SecLangParser
{
    public static List<SecLangDirective> ParseFile(string path) => Parse(File.ReadAllText(path), path);

    public static List<SecLangDirective> Parse(string text, string file)
    {
        var directives = new List<SecLangDirective>();
        var logical = new StringBuilder();
        var startLine = 0;
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (logical.Length == 0)
            {
                var trimmed = line.TrimStart();
                if (trimmed.Length == 0 || trimmed[0] == '#')
                {
                    continue;
                }

                startLine = lineNumber;
            }

            var continued = line.EndsWith('\\');
            logical.Append(continued ? line.AsSpan(0, line.Length - 1) : line);
            if (continued)
            {
                continue;
            }

            AddDirective(directives, logical.ToString(), file, startLine);
            logical.Clear();
        }

        if (logical.Length > 0)
        {
            AddDirective(directives, logical.ToString(), file, startLine);
        }

        return directives;
    }

    private static void AddDirective(List<SecLangDirective> directives, string text, string file, int line)
    {
        var words = SplitWords(text, $"{System.IO.Path.GetFileName(file)}:{line}");
        if (words.Count > 0)
        {
            directives.Add(new SecLangDirective(words[0], words.GetRange(1, words.Count - 1), file, line));
        }
    }

    private static List<string> SplitWords(string text, string where)
    {
        var words = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                i++;
                continue;
            }

            var word = new StringBuilder();
            var quote = text[i] is '"' or '\'' ? text[i] : '\0';
            if (quote != '\0')
            {
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new SecLangException(where, $"unterminated {quote}-quoted argument");
                    }

                    var c = text[i];
                    if (c == '\\' && i + 1 < text.Length && (text[i + 1] == quote || text[i + 1] == '\\'))
                    {
                        word.Append(text[i + 1]);
                        i += 2;
                        continue;
                    }

                    i++;
                    if (c == quote)
                    {
                        break;
                    }

                    word.Append(c);
                }
            }
            else
            {
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    word.Append(text[i++]);
                }
            }

            words.Add(word.ToString());
        }

        return words;
    }

    /// <summary>Splits a rule's action list at commas outside single quotes; values keep their text without the quotes.</summary>
    public static List<KeyValuePair<string, string>> SplitActions(string actions, string where)
    {
        var result = new List<KeyValuePair<string, string>>();
        var i = 0;
        while (i < actions.Length)
        {
            while (i < actions.Length && (char.IsWhiteSpace(actions[i]) || actions[i] == ','))
            {
                i++;
            }

            if (i >= actions.Length)
            {
                break;
            }

            var nameStart = i;
            while (i < actions.Length && actions[i] != ':' && actions[i] != ',')
            {
                i++;
            }

            var name = actions[nameStart..i].Trim();
            var value = string.Empty;
            if (i < actions.Length && actions[i] == ':')
            {
                i++;
                while (i < actions.Length && actions[i] == ' ')
                {
                    i++;
                }

                var builder = new StringBuilder();
                if (i < actions.Length && actions[i] == '\'')
                {
                    i++;
                    while (true)
                    {
                        if (i >= actions.Length)
                        {
                            throw new SecLangException(where, $"unterminated quote in action '{name}'");
                        }

                        if (actions[i] == '\\' && i + 1 < actions.Length && actions[i + 1] == '\'')
                        {
                            builder.Append('\'');
                            i += 2;
                            continue;
                        }

                        if (actions[i] == '\'')
                        {
                            i++;
                            break;
                        }

                        builder.Append(actions[i++]);
                    }
                }
                else
                {
                    while (i < actions.Length && actions[i] != ',')
                    {
                        builder.Append(actions[i++]);
                    }
                }

                value = builder.ToString().Trim();
            }

            result.Add(new(name, value));
        }

        return result;
    }
}
