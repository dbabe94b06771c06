namespace AseGateway.Waf.Crs.Injection;

/// <summary>
/// Splits text into SQL tokens the way a database would read it after the text has been pasted into a query.
/// <para>
/// The quote context says where the text lands: as-is (a number or a bare word in the query), inside a single-quoted
/// string, or inside a double-quoted string. In a quote context the first token is the rest of that string, up to the
/// quote that the attacker uses to close it. The MySQL flavour differs from ANSI SQL only where attackers rely on the
/// difference: <c>#</c> comments, <c>--</c> comments that need a following space, and backslash escapes in strings.
/// </para>
/// Work is linear in the input: every branch advances the position.
/// </summary>
internal ref struct SqlTokenizer
{
    private readonly ReadOnlySpan<char> _input;
    private readonly char _quoteContext;
    private readonly bool _mySql;
    private int _position;
    private bool _started;
    private bool _inExecutableComment;

    public SqlTokenizer(ReadOnlySpan<char> input, char quoteContext, bool mySql)
    {
        _input = input;
        _quoteContext = quoteContext;
        _mySql = mySql;
    }

    public bool Next(out SqlToken token)
    {
        if (!_started)
        {
            _started = true;
            if (_quoteContext != '\0')
            {
                token = ReadString(0, _quoteContext, openQuote: '\0');
                return true;
            }
        }

        var input = _input;
        while (_position < input.Length)
        {
            var c = input[_position];
            if (IsWhitespace(c))
            {
                _position++;
                continue;
            }

            switch (c)
            {
                case '\'':
                case '"':
                    token = ReadString(_position + 1, c, c);
                    return true;
                case '`':
                    token = ReadQuotedIdentifier();
                    return true;
                case '(':
                case ')':
                case ',':
                case ';':
                    token = Single(c, 1);
                    return true;
                case '-':
                    if (Peek(1) == '-' && (!_mySql || _position + 2 >= input.Length || IsWhitespace(input[_position + 2])))
                    {
                        token = ReadLineComment();
                        return true;
                    }

                    token = Single(SqlTokenType.Operator, 1);
                    return true;
                case '#':
                    if (_mySql)
                    {
                        token = ReadLineComment();
                        return true;
                    }

                    token = Single(SqlTokenType.Unknown, 1);
                    return true;
                case '/':
                    if (Peek(1) == '*')
                    {
                        if (Peek(2) == '!')
                        {
                            // MySQL runs the text of /*! ... */ (optionally after a version number): read it as SQL.
                            _position += 3;
                            var digits = 0;
                            while (digits < 5 && _position < input.Length && char.IsAsciiDigit(input[_position]))
                            {
                                _position++;
                                digits++;
                            }

                            _inExecutableComment = true;
                            continue;
                        }

                        token = ReadBlockComment();
                        return true;
                    }

                    token = Single(SqlTokenType.Operator, 1);
                    return true;
                case '*':
                    if (_inExecutableComment && Peek(1) == '/')
                    {
                        _inExecutableComment = false;
                        _position += 2;
                        continue;
                    }

                    token = Single(SqlTokenType.Operator, 1);
                    return true;
                case '@':
                    token = ReadVariable();
                    return true;
                case '=':
                    token = Single(SqlTokenType.Comparison, Peek(1) == '=' ? 2 : 1);
                    return true;
                case '<':
                    token = ReadLessThan();
                    return true;
                case '>':
                    token = Peek(1) == '>' ? Single(SqlTokenType.Operator, 2) : Single(SqlTokenType.Comparison, Peek(1) == '=' ? 2 : 1);
                    return true;
                case '!':
                    token = Peek(1) == '=' ? Single(SqlTokenType.Comparison, 2) : Single(SqlTokenType.Operator, 1);
                    return true;
                case '|':
                    token = Peek(1) == '|' ? Single(SqlTokenType.Logic, 2) : Single(SqlTokenType.Operator, 1);
                    return true;
                case '&':
                    token = Peek(1) == '&' ? Single(SqlTokenType.Logic, 2) : Single(SqlTokenType.Operator, 1);
                    return true;
                case ':':
                    // := and :: are operators; a lone colon is not (and JSON's "key": "value" must not read as one).
                    token = Peek(1) is ':' or '=' ? Single(SqlTokenType.Operator, 2) : Single(SqlTokenType.Unknown, 1);
                    return true;
                case '+':
                case '%':
                case '^':
                case '~':
                    token = Single(SqlTokenType.Operator, 1);
                    return true;
                case '.':
                    if (char.IsAsciiDigit(Peek(1)))
                    {
                        token = ReadNumber();
                        return true;
                    }

                    token = Single(SqlTokenType.Unknown, 1); // a lone dot is no SQL operator (PHP's '.'.'.' is not SQL)
                    return true;
                default:
                    if (char.IsAsciiDigit(c))
                    {
                        token = ReadNumber();
                        return true;
                    }

                    if (IsWordStart(c))
                    {
                        token = ReadWord();
                        return true;
                    }

                    token = Single(SqlTokenType.Unknown, 1);
                    return true;
            }
        }

        token = default;
        return false;
    }

    /// <summary>Whitespace as databases skip it: ASCII space and controls (NUL included) and the no-break space.</summary>
    public static bool IsWhitespace(char c) => c <= ' ' || c == '\u00A0' || c == '\u007F';

    private static bool IsWordStart(char c) => char.IsAsciiLetter(c) || c == '_' || c == '$' || (c >= '\u0080' && c != '\u00A0');

    private static bool IsWordPart(char c) => IsWordStart(c) || char.IsAsciiDigit(c);

    private readonly char Peek(int offset) =>
        _position + offset < _input.Length ? _input[_position + offset] : '\0';

    private SqlToken Single(char type, int length)
    {
        var token = new SqlToken { Type = type, Start = _position, Length = length };
        _position += length;
        return token;
    }

    private SqlToken ReadString(int contentStart, char quote, char openQuote)
    {
        var input = _input;
        var i = contentStart;
        while (i < input.Length)
        {
            var c = input[i];
            if (c == '\\' && _mySql)
            {
                i += 2;
                continue;
            }

            if (c == quote)
            {
                if (i + 1 < input.Length && input[i + 1] == quote)
                {
                    i += 2; // a doubled quote is a quote inside the string
                    continue;
                }

                _position = i + 1;
                return new SqlToken { Type = SqlTokenType.String, Start = contentStart, Length = i - contentStart, OpenQuote = openQuote, CloseQuote = quote };
            }

            i++;
        }

        _position = input.Length;
        var end = Math.Min(i, input.Length);
        return new SqlToken { Type = SqlTokenType.String, Start = Math.Min(contentStart, end), Length = end - Math.Min(contentStart, end), OpenQuote = openQuote };
    }

    private SqlToken ReadQuotedIdentifier()
    {
        var start = _position + 1;
        var close = _input[start..].IndexOf('`');
        var end = close < 0 ? _input.Length : start + close;
        _position = close < 0 ? _input.Length : end + 1;
        return new SqlToken { Type = SqlTokenType.Bareword, Start = start, Length = end - start };
    }

    private SqlToken ReadLineComment()
    {
        var start = _position;
        var newline = _input[start..].IndexOf('\n');
        _position = newline < 0 ? _input.Length : start + newline + 1;
        return new SqlToken { Type = SqlTokenType.Comment, Start = start, Length = _position - start };
    }

    private SqlToken ReadBlockComment()
    {
        var start = _position;
        var close = _input[(start + 2)..].IndexOf("*/");
        _position = close < 0 ? _input.Length : start + 2 + close + 2;

        // A "/*" inside the comment (its '*' may be the closing one, as in "/*/*/") nests in PostgreSQL only.
        var nested = close >= 0 && _input.Slice(start + 2, close + 1).IndexOf("/*") >= 0;
        return new SqlToken { Type = nested ? SqlTokenType.Unparsable : SqlTokenType.Comment, Start = start, Length = _position - start };
    }

    private SqlToken ReadVariable()
    {
        var start = _position;
        var i = _position + 1;
        if (i < _input.Length && _input[i] == '@')
        {
            i++; // @@system_variable
        }

        while (i < _input.Length && IsWordPart(_input[i]))
        {
            i++;
        }

        _position = i;
        return new SqlToken { Type = SqlTokenType.Variable, Start = start, Length = i - start };
    }

    private SqlToken ReadLessThan()
    {
        var next = Peek(1);
        if (next == '=')
        {
            return Single(SqlTokenType.Comparison, Peek(2) == '>' ? 3 : 2); // <= and MySQL's null-safe <=>
        }

        return next switch
        {
            '>' => Single(SqlTokenType.Comparison, 2),
            '<' => Single(SqlTokenType.Operator, 2),
            _ => Single(SqlTokenType.Comparison, 1),
        };
    }

    private SqlToken ReadNumber()
    {
        var input = _input;
        var start = _position;
        var i = start;
        if (input[i] == '0' && i + 1 < input.Length && (input[i + 1] | 0x20) is 'x' or 'b')
        {
            var hex = (input[i + 1] | 0x20) == 'x';
            var j = i + 2;
            while (j < input.Length && (hex ? char.IsAsciiHexDigit(input[j]) : input[j] is '0' or '1'))
            {
                j++;
            }

            if (j > i + 2)
            {
                _position = j;
                return new SqlToken { Type = SqlTokenType.Number, Start = start, Length = j - start };
            }
        }

        while (i < input.Length && char.IsAsciiDigit(input[i]))
        {
            i++;
        }

        if (i < input.Length && input[i] == '.')
        {
            i++;
            while (i < input.Length && char.IsAsciiDigit(input[i]))
            {
                i++;
            }
        }

        if (i + 1 < input.Length && (input[i] | 0x20) == 'e')
        {
            var j = i + 1;
            if (input[j] is '+' or '-')
            {
                j++;
            }

            if (j < input.Length && char.IsAsciiDigit(input[j]))
            {
                i = j;
                while (i < input.Length && char.IsAsciiDigit(input[i]))
                {
                    i++;
                }
            }
        }

        _position = i;
        return new SqlToken { Type = SqlTokenType.Number, Start = start, Length = i - start };
    }

    private SqlToken ReadWord()
    {
        var input = _input;
        var start = _position;
        var i = start + 1;
        while (i < input.Length)
        {
            var c = input[i];
            // A dot joins qualified names (schema.table, dbms_lock.sleep) but a trailing dot ends prose words.
            if (IsWordPart(c) || (c == '.' && i + 1 < input.Length && IsWordStart(input[i + 1])))
            {
                i++;
                continue;
            }

            break;
        }

        // N'..', X'..', B'..', E'..': a one-letter prefix glued to a quote is part of the string literal.
        if (i == start + 1 && i < input.Length && input[i] == '\'' && (input[start] | 0x20) is 'n' or 'x' or 'b' or 'e')
        {
            return ReadString(i + 1, '\'', '\'');
        }

        _position = i;
        var word = input[start..i];
        return new SqlToken { Type = SqlKeywords.Classify(word), Start = start, Length = i - start, IsWord = true };
    }
}
