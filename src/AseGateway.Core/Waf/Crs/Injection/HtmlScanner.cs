using System.Buffers;

namespace AseGateway.Waf.Crs.Injection;

/// <summary>
/// An HTML5 tokenizer state machine (WHATWG HTML, "Tokenization": data, tag open, tag name, attribute name and
/// value states, comments, markup declarations) that checks each tag, attribute and comment it completes against
/// <see cref="XssVocabulary"/> instead of building tokens. It follows the specification's error recovery where
/// attackers use it: <c>&lt;svg/onload=…&gt;</c> (a slash between attributes), <c>"onmouseover=…</c> (an attribute
/// glued to a closing quote), attribute names that contain quotes.
/// </summary>
internal static class HtmlScanner
{
    /// <summary>Where in a page the value is assumed to be written.</summary>
    public enum Start
    {
        Data,
        UnquotedValue,
        SingleQuotedValue,
        DoubleQuotedValue,
        BackQuotedValue,
    }

    private enum State
    {
        Data,
        TagOpen,
        EndTagOpen,
        TagName,
        BeforeAttributeName,
        AttributeList,
        BeforeAttributeValue,
        QuotedAttributeValue,
        UnquotedAttributeValue,
        AfterQuotedAttributeValue,
        SelfClosingStartTag,
        MarkupDeclarationOpen,
        Comment,
        BogusComment,
    }

    public static bool IsDangerous(ReadOnlySpan<char> input, Start start)
    {
        var state = start switch
        {
            Start.Data => State.Data,
            Start.UnquotedValue => State.UnquotedAttributeValue,
            _ => State.QuotedAttributeValue,
        };
        var quote = start switch
        {
            Start.SingleQuotedValue => '\'',
            Start.DoubleQuotedValue => '"',
            Start.BackQuotedValue => '`',
            _ => '\0',
        };

        var nameStart = 0; // start of the tag name or comment being read
        var attributesFrom = 0; // where the current run of attributes began
        var valueStart = 0;
        var attributeStart = -1; // the attribute whose value is being read; -1 for the value the input starts in
        var attributeLength = 0;
        var i = 0;
        while (i < input.Length)
        {
            var c = input[i];
            switch (state)
            {
                case State.Data:
                    var open = input[i..].IndexOf('<');
                    if (open < 0)
                    {
                        return false;
                    }

                    i += open + 1;
                    state = State.TagOpen;
                    continue;

                case State.TagOpen:
                    if (char.IsAsciiLetter(c))
                    {
                        nameStart = i;
                        state = State.TagName;
                    }
                    else
                    {
                        state = c switch
                        {
                            '!' => State.MarkupDeclarationOpen,
                            '/' => State.EndTagOpen,
                            '?' => State.BogusComment,
                            _ => State.Data,
                        };
                        if (state == State.Data)
                        {
                            continue; // reconsume: "a < b" is text
                        }
                    }

                    break;

                case State.EndTagOpen:
                    if (char.IsAsciiLetter(c))
                    {
                        nameStart = i;
                        state = State.TagName;
                    }
                    else
                    {
                        state = c == '>' ? State.Data : State.BogusComment;
                    }

                    break;

                case State.TagName:
                    if (IsSpace(c) || c is '/' or '>')
                    {
                        if (XssVocabulary.IsDangerousTag(input[nameStart..i]))
                        {
                            return true;
                        }

                        state = c == '>' ? State.Data : c == '/' ? State.SelfClosingStartTag : State.BeforeAttributeName;
                    }

                    break;

                case State.BeforeAttributeName:
                    attributesFrom = i;
                    state = State.AttributeList;
                    continue;

                case State.AttributeList:
                    // Only a name that gets a value can do harm, and only '>' leaves the tag: jump to the next of
                    // the two and read the attribute name backwards from the '='.
                    var stop = input[i..].IndexOfAny('=', '>');
                    if (stop < 0)
                    {
                        return false;
                    }

                    i += stop;
                    if (input[i] == '>')
                    {
                        i++;
                        state = State.Data;
                        continue;
                    }

                    var nameEnd = i;
                    while (nameEnd > attributesFrom && IsSpace(input[nameEnd - 1]))
                    {
                        nameEnd--;
                    }

                    var nameBegin = nameEnd;
                    while (nameBegin > attributesFrom && !IsSpace(input[nameBegin - 1]) && input[nameBegin - 1] != '/')
                    {
                        nameBegin--;
                    }

                    if (nameBegin == nameEnd)
                    {
                        break; // '=' where a name should start is part of the next name (<a =x>)
                    }

                    attributeStart = nameBegin;
                    attributeLength = nameEnd - nameBegin;
                    if (XssVocabulary.IsCodeAttribute(input.Slice(attributeStart, attributeLength)))
                    {
                        return true;
                    }

                    state = State.BeforeAttributeValue;
                    break;

                case State.BeforeAttributeValue:
                    if (IsSpace(c))
                    {
                        i = SkipSpaces(input, i);
                        continue;
                    }

                    if (c is '"' or '\'' or '`')
                    {
                        quote = c;
                        valueStart = i + 1;
                        state = State.QuotedAttributeValue;
                    }
                    else if (c == '>')
                    {
                        state = State.Data;
                    }
                    else
                    {
                        valueStart = i;
                        state = State.UnquotedAttributeValue;
                        continue;
                    }

                    break;

                case State.QuotedAttributeValue:
                    var close = input[i..].IndexOf(quote);
                    var quotedEnd = close < 0 ? input.Length : i + close;
                    if (IsDangerousValue(input, attributeStart, attributeLength, input[valueStart..quotedEnd]))
                    {
                        return true;
                    }

                    i = quotedEnd + 1;
                    state = State.AfterQuotedAttributeValue;
                    continue;

                case State.UnquotedAttributeValue:
                    if (!IsSpace(c) && c != '>')
                    {
                        var valueEnd = input[i..].IndexOfAny(UnquotedValueEnd);
                        i = valueEnd < 0 ? input.Length : i + valueEnd;
                        continue;
                    }

                    if (IsDangerousValue(input, attributeStart, attributeLength, input[valueStart..i]))
                    {
                        return true;
                    }

                    state = c == '>' ? State.Data : State.BeforeAttributeName;
                    break;

                case State.AfterQuotedAttributeValue:
                    state = IsSpace(c) ? State.BeforeAttributeName : c switch
                    {
                        '/' => State.SelfClosingStartTag,
                        '>' => State.Data,
                        _ => State.BeforeAttributeName,
                    };
                    if (!IsSpace(c) && c is not '/' and not '>')
                    {
                        continue; // an attribute glued to the closing quote: "onmouseover=...
                    }

                    break;

                case State.SelfClosingStartTag:
                    state = c == '>' ? State.Data : State.BeforeAttributeName;
                    if (c != '>')
                    {
                        continue; // <svg/onload=...>: the slash separates attributes
                    }

                    break;

                case State.MarkupDeclarationOpen:
                    if (input[i..].StartsWith("--"))
                    {
                        i += 2;
                        nameStart = i;
                        state = State.Comment;
                        continue;
                    }

                    state = State.BogusComment;
                    continue;

                case State.Comment:
                    var end = input[i..].IndexOf("-->");
                    var commentEnd = end < 0 ? input.Length : i + end;
                    if (XssVocabulary.IsDangerousComment(input[nameStart..commentEnd]))
                    {
                        return true;
                    }

                    i = end < 0 ? input.Length : commentEnd + 3;
                    state = State.Data;
                    continue;

                case State.BogusComment:
                    var gt = input[i..].IndexOf('>');
                    if (gt < 0)
                    {
                        return false;
                    }

                    i += gt + 1;
                    state = State.Data;
                    continue;
            }

            i++;
        }

        // The input ended inside a tag name or an unquoted value: judge what was read, as a browser would once the
        // page's own markup closes the tag.
        return state switch
        {
            State.TagName => XssVocabulary.IsDangerousTag(input[nameStart..]),
            State.UnquotedAttributeValue => IsDangerousValue(input, attributeStart, attributeLength, input[valueStart..]),
            _ => false,
        };
    }

    private static bool IsDangerousValue(ReadOnlySpan<char> input, int attributeStart, int attributeLength, ReadOnlySpan<char> value) =>
        attributeStart >= 0 && XssVocabulary.IsUrlAttribute(input.Slice(attributeStart, attributeLength)) && XssVocabulary.HasScriptScheme(value);

    /// <summary>HTML's ASCII whitespace, plus the controls some browsers also accept between attributes.</summary>
    private const string Spaces = " \t\n\f\r\v\0";

    private static readonly SearchValues<char> SpaceValues = SearchValues.Create(Spaces);
    private static readonly SearchValues<char> UnquotedValueEnd = SearchValues.Create(Spaces + ">");

    private static bool IsSpace(char c) => SpaceValues.Contains(c);

    private static int SkipSpaces(ReadOnlySpan<char> input, int i)
    {
        var next = input[i..].IndexOfAnyExcept(SpaceValues);
        return next < 0 ? input.Length : i + next;
    }
}
