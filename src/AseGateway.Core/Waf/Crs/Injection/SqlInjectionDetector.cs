namespace AseGateway.Waf.Crs.Injection;

/// <summary>
/// The <c>@detectSQLi</c> operator: says whether a value, pasted into an SQL query, would change the query.
/// <para>
/// The value is read the ways a query could receive it: as-is, inside a single-quoted string and inside a
/// double-quoted string, in ANSI SQL and (where the value has MySQL-only syntax) in MySQL. Each reading is tokenized,
/// folded (adjacent strings joined, unary signs dropped, two-word keywords joined, comments dropped unless they end
/// the input) and summarised as the classes of its first five tokens. A reading whose fingerprint is a known attack
/// shape (<see cref="SqlFingerprints"/>) and passes the false-positive checks is an injection.
/// </para>
/// No allocation except the matched fingerprint string of a new shape; at most five passes over the input.
/// </summary>
internal static class SqlInjectionDetector
{
    /// <summary>Folded tokens kept per pass: the five of the fingerprint and one more so the fifth is final.</summary>
    private const int TokensKept = 6;

    private const int FingerprintLength = 5;

    public static bool IsSqlInjection(ReadOnlySpan<char> input, out string fingerprint)
    {
        fingerprint = string.Empty;
        if (input.IsEmpty)
        {
            return false;
        }

        Span<char> buffer = stackalloc char[FingerprintLength];
        var hasMySqlSyntax = input.IndexOfAny('#', '\\', '-') >= 0;

        if (Check(input, '\0', mySql: false, buffer, out var length)
            || (hasMySqlSyntax && Check(input, '\0', mySql: true, buffer, out length))
            || (input.Contains('\'') && (Check(input, '\'', mySql: false, buffer, out length)
                || (hasMySqlSyntax && Check(input, '\'', mySql: true, buffer, out length))))
            || (input.Contains('"') && Check(input, '"', mySql: true, buffer, out length)))
        {
            fingerprint = SqlFingerprints.ToInternedString(buffer[..length]);
            return true;
        }

        return false;
    }

    /// <summary>The fingerprint of one reading, exposed for tests and diagnostics.</summary>
    internal static int Fingerprint(ReadOnlySpan<char> input, char quoteContext, bool mySql, Span<char> fingerprint)
    {
        Span<SqlToken> tokens = stackalloc SqlToken[TokensKept];
        return Print(tokens[..Fold(input, quoteContext, mySql, tokens)], fingerprint);
    }

    private static int Print(ReadOnlySpan<SqlToken> tokens, Span<char> fingerprint)
    {
        var length = Math.Min(tokens.Length, FingerprintLength);
        for (var i = 0; i < length; i++)
        {
            fingerprint[i] = tokens[i].Type;
        }

        return length;
    }

    private static bool Check(ReadOnlySpan<char> input, char quoteContext, bool mySql, Span<char> fingerprint, out int length)
    {
        Span<SqlToken> tokens = stackalloc SqlToken[TokensKept];
        var count = Fold(input, quoteContext, mySql, tokens);
        length = Print(tokens[..count], fingerprint);
        if (fingerprint[..length].Contains(SqlTokenType.Unparsable))
        {
            // As libinjection: a reading that cannot be parsed the same way by every database is an attack ("X").
            fingerprint[0] = SqlTokenType.Unparsable;
            length = 1;
            return true;
        }

        return length > 1
            && SqlFingerprints.IsAttack(fingerprint[..length])
            && !IsBenignShape(input, tokens[..count], quoteContext, fingerprint[..length]);
    }

    /// <summary>
    /// Tokenizes one reading and folds it into at most <see cref="TokensKept"/> tokens. Folding only ever changes or
    /// removes the last kept token, so once the buffer is full the first five are final and tokenizing stops.
    /// </summary>
    private static int Fold(ReadOnlySpan<char> input, char quoteContext, bool mySql, Span<SqlToken> kept)
    {
        var tokenizer = new SqlTokenizer(input, quoteContext, mySql);
        var count = 0;
        var endsInComment = false;
        SqlToken comment = default;

        while (count < kept.Length && tokenizer.Next(out var token))
        {
            if (token.Type == SqlTokenType.Comment)
            {
                // Comments between tokens are evasion padding (UNION/**/SELECT); only a final one matters (admin'--).
                endsInComment = true;
                comment = token;
                continue;
            }

            endsInComment = false;
            if (count > 0 && Merge(input, kept, ref count, token))
            {
                continue;
            }

            kept[count++] = token;
        }

        if (count > 0 && kept[count - 1].Type == SqlTokenType.Function)
        {
            kept[count - 1].Type = SqlTokenType.Bareword; // a function name not followed by '(' is just a word
        }

        if (endsInComment && count < kept.Length)
        {
            kept[count++] = comment;
        }

        return count;
    }

    /// <summary>Folds the new token into the kept ones when SQL would read them as one; true when it was absorbed.</summary>
    private static bool Merge(ReadOnlySpan<char> input, Span<SqlToken> kept, ref int count, SqlToken token)
    {
        ref var last = ref kept[count - 1];

        if (last.Type == SqlTokenType.Function && token.Type != SqlTokenType.LeftParen)
        {
            last.Type = SqlTokenType.Bareword;
        }

        // 'a' 'b' is one string in MySQL (and in the quote context, "x' 'y" is how the attacker glues them).
        if (last.Type == SqlTokenType.String && token.Type == SqlTokenType.String)
        {
            last.CloseQuote = token.CloseQuote;
            last.Length = token.End - last.Start;
            return true;
        }

        // UNION ALL, ORDER BY, NOT IN, WAITFOR DELAY...: one token.
        if (last.IsWord && token.IsWord
            && SqlKeywords.TryClassifyPhrase(last.Text(input), token.Text(input), out var phraseType))
        {
            last.Type = phraseType;
            last.Length = token.End - last.Start;
            return true;
        }

        // A sign or NOT before a value, where no value precedes it, is unary: -1 is a number, NOT 1 a value.
        if (IsValueStart(token.Type) && IsUnaryOperator(input, last)
            && (count == 1 || IsOperandPosition(kept[count - 2].Type)))
        {
            last = token;
            return true;
        }

        // Arithmetic on numbers is a number: 1 or 2-1=1 has the shape of 1 or 1=1.
        if (count >= 2 && last.Type == SqlTokenType.Operator && token.Type is SqlTokenType.Number or SqlTokenType.Variable
            && kept[count - 2].Type is SqlTokenType.Number or SqlTokenType.Variable)
        {
            count--;
            return true;
        }

        // Words joined by '/' or '-' are one word: a path (/usr/share/doc) or a hyphenated name (GPL-2, x-y).
        if (count >= 2 && last.Type == SqlTokenType.Operator && last.Length == 1 && input[last.Start] is '/' or '-'
            && token.Type is SqlTokenType.Bareword or SqlTokenType.Number
            && kept[count - 2].Type is SqlTokenType.Bareword or SqlTokenType.Number)
        {
            count--;
            kept[count - 1].Type = SqlTokenType.Bareword;
            return true;
        }

        return false;
    }

    private static bool IsValueStart(char type) => type is SqlTokenType.Number or SqlTokenType.Bareword or SqlTokenType.Variable
        or SqlTokenType.String or SqlTokenType.Function or SqlTokenType.LeftParen;

    private static bool IsOperandPosition(char previous) => previous is SqlTokenType.Operator or SqlTokenType.Comparison
        or SqlTokenType.Logic or SqlTokenType.LeftParen or SqlTokenType.Comma or SqlTokenType.Semicolon
        or SqlTokenType.Keyword or SqlTokenType.Union or SqlTokenType.Statement or SqlTokenType.Clause;

    private static bool IsUnaryOperator(ReadOnlySpan<char> input, SqlToken token)
    {
        if (token.Type != SqlTokenType.Operator)
        {
            return false;
        }

        var text = token.Text(input);
        return (text.Length == 1 && text[0] is '+' or '-' or '~' or '!') || text.Equals("NOT", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Shapes in the set that are harmless when the tokens say more than their classes.
    /// <list type="bullet">
    /// <item>A short reading (three tokens or fewer) in a quote context whose host string holds a space: the
    /// attacker's value before the quote is a field value (x, admin, an address), while prose quotes an option or a
    /// character after some words (<c>do not accept '#' here</c>, <c>drop '--add-udeb'</c>, <c>'=' characters</c>).</item>
    /// <item>As-is, a value that starts with a whole quoted string and whose third token is another quoted string:
    /// quoted words joined by prose (<c>"You" and "your"</c>, <c>"a", "b", "c"</c>).</item>
    /// <item>As-is, a whole quoted string followed only by a comment.</item>
    /// </list>
    /// </summary>
    private static bool IsBenignShape(ReadOnlySpan<char> input, ReadOnlySpan<SqlToken> tokens, char quoteContext, ReadOnlySpan<char> fingerprint)
    {
        if (fingerprint[0] != SqlTokenType.String)
        {
            return false;
        }

        var first = tokens[0];
        if (quoteContext != '\0')
        {
            return fingerprint.Length <= 3 && first.Text(input).ContainsAny(' ', '\t', '\n');
        }

        if (!IsWhole(first))
        {
            return false;
        }

        return (fingerprint.Length == 2 && fingerprint[1] == SqlTokenType.Comment)
            || (fingerprint.Length >= 3 && fingerprint[2] == SqlTokenType.String && tokens[2].OpenQuote != '\0');

        static bool IsWhole(SqlToken token) => token.OpenQuote != '\0' && token.CloseQuote != '\0';
    }
}
