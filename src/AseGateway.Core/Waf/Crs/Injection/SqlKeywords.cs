using System.Collections.Frozen;

namespace AseGateway.Waf.Crs.Injection;

/// <summary>
/// The SQL words the tokenizer recognises, across the dialects attackers aim at (MySQL, SQL Server, PostgreSQL,
/// Oracle, SQLite), and the two-word phrases that fold into one token (<c>UNION ALL</c>, <c>ORDER BY</c>…).
/// Words not listed are barewords. Lookups take spans and ignore case, so classifying a word allocates nothing.
/// </summary>
internal static class SqlKeywords
{
    private static readonly FrozenDictionary<string, char> Words = Build(
        // Statements that start a query or a stacked command.
        (SqlTokenType.Statement, "SELECT INSERT UPDATE DELETE DROP CREATE ALTER TRUNCATE EXEC EXECUTE DECLARE SHUTDOWN GRANT REVOKE " +
            "RENAME HANDLER CALL MERGE PREPARE DBCC KILL LOCK UNLOCK " +
            // SQL Server procedures that run commands; called without parentheses, like a statement.
            "XP_CMDSHELL XP_REGREAD XP_DIRTREE SP_EXECUTESQL SP_OACREATE SP_PASSWORD SP_MAKEWEBTASK"),
        (SqlTokenType.Union, "UNION EXCEPT INTERSECT"),
        (SqlTokenType.Clause, "HAVING LIMIT PROCEDURE"),
        (SqlTokenType.Delay, "WAITFOR"),
        (SqlTokenType.Logic, "AND OR XOR"),
        (SqlTokenType.Operator, "NOT DIV"),
        (SqlTokenType.Comparison, "LIKE RLIKE REGEXP IS BETWEEN GLOB ILIKE"),
        (SqlTokenType.Number, "NULL TRUE FALSE"),
        (SqlTokenType.Keyword, "FROM WHERE INTO AS ON IN JOIN TABLE VALUES CASE WHEN THEN ELSE END ALL ANY SOME DISTINCT SET USE " +
            "OFFSET ESCAPE COLLATE TOP OUTFILE DUMPFILE BEGIN COMMIT ROLLBACK"),
        // Functions: used for time delays, error-based extraction, string building and fingerprinting the server.
        (SqlTokenType.Function, "SLEEP BENCHMARK PG_SLEEP MOD DBMS_LOCK.SLEEP DBMS_PIPE.RECEIVE_MESSAGE CHAR CHR NCHAR CONCAT CONCAT_WS " +
            "GROUP_CONCAT STRING_AGG ARRAY_AGG SUBSTRING SUBSTR MID LEFT RIGHT ASCII ORD HEX UNHEX BIN OCT CONV LENGTH LEN " +
            "CHAR_LENGTH VERSION DATABASE USER SYSTEM_USER SESSION_USER CURRENT_USER SUSER_NAME DB_NAME HOST_NAME COUNT MAX " +
            "MIN SUM AVG IF IIF IFNULL ISNULL NULLIF NVL COALESCE CAST CONVERT EXTRACTVALUE UPDATEXML XMLTYPE LOAD_FILE " +
            "PG_READ_FILE CURRENT_SETTING QUERY_TO_XML EXISTS LOWER UPPER TRIM REVERSE REPLACE REPEAT LPAD RPAD INSTR LOCATE " +
            "POSITION STRCMP RAND FLOOR CEIL ROUND ABS MD5 SHA1 SHA2 COMPRESS UUID NAME_CONST ELT FIELD MAKE_SET EXP POW " +
            "GTID_SUBSET JSON_EXTRACT JSON_KEYS OPENROWSET OPENQUERY OPENDATASOURCE " +
            "TO_CHAR TO_NUMBER DECODE UTL_HTTP.REQUEST UTL_INADDR.GET_HOST_ADDRESS CTXSYS.DRITHSX.SN STUFF QUOTENAME UNICODE " +
            "SPACE FOUND_ROWS ROW_COUNT LAST_INSERT_ID CONNECTION_ID SYSDATE NOW GET_LOCK MASTER_POS_WAIT RANDOMBLOB " +
            "SQLITE_VERSION LIKELIHOOD"));

    private static readonly FrozenDictionary<string, char> Phrases = new Dictionary<string, char>(StringComparer.OrdinalIgnoreCase)
    {
        ["UNION ALL"] = SqlTokenType.Union,
        ["UNION DISTINCT"] = SqlTokenType.Union,
        ["EXCEPT ALL"] = SqlTokenType.Union,
        ["INTERSECT ALL"] = SqlTokenType.Union,
        ["GROUP BY"] = SqlTokenType.Clause,
        ["ORDER BY"] = SqlTokenType.Clause,
        ["WAITFOR DELAY"] = SqlTokenType.Delay,
        ["WAITFOR TIME"] = SqlTokenType.Delay,
        ["NOT IN"] = SqlTokenType.Comparison,
        ["NOT LIKE"] = SqlTokenType.Comparison,
        ["NOT RLIKE"] = SqlTokenType.Comparison,
        ["NOT REGEXP"] = SqlTokenType.Comparison,
        ["NOT BETWEEN"] = SqlTokenType.Comparison,
        ["IS NOT"] = SqlTokenType.Comparison,
        ["SOUNDS LIKE"] = SqlTokenType.Comparison,
        ["INSERT INTO"] = SqlTokenType.Statement,
        ["DELETE FROM"] = SqlTokenType.Statement,
        ["REPLACE INTO"] = SqlTokenType.Statement,
        ["SELECT ALL"] = SqlTokenType.Statement,
        ["SELECT DISTINCT"] = SqlTokenType.Statement,
        ["SELECT TOP"] = SqlTokenType.Statement,
        ["INTO OUTFILE"] = SqlTokenType.Keyword,
        ["INTO DUMPFILE"] = SqlTokenType.Keyword,
        ["LEFT JOIN"] = SqlTokenType.Keyword,
        ["RIGHT JOIN"] = SqlTokenType.Keyword,
        ["INNER JOIN"] = SqlTokenType.Keyword,
        ["CROSS JOIN"] = SqlTokenType.Keyword,
        ["OUTER JOIN"] = SqlTokenType.Keyword,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, char>.AlternateLookup<ReadOnlySpan<char>> WordLookup =
        Words.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly FrozenDictionary<string, char>.AlternateLookup<ReadOnlySpan<char>> PhraseLookup =
        Phrases.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Longest phrase key; a pair of words longer than this cannot be a phrase.</summary>
    public const int MaxPhraseLength = 16;

    /// <summary>The class of a word, or <see cref="SqlTokenType.Bareword"/> when it is not an SQL word.</summary>
    public static char Classify(ReadOnlySpan<char> word) =>
        WordLookup.TryGetValue(word, out var type) ? type : SqlTokenType.Bareword;

    /// <summary>The class of two words written with one space between them, when they form a known phrase.</summary>
    public static bool TryClassifyPhrase(ReadOnlySpan<char> first, ReadOnlySpan<char> second, out char type)
    {
        type = default;
        if (first.Length + second.Length + 1 > MaxPhraseLength)
        {
            return false;
        }

        Span<char> phrase = stackalloc char[MaxPhraseLength];
        first.CopyTo(phrase);
        phrase[first.Length] = ' ';
        second.CopyTo(phrase[(first.Length + 1)..]);
        return PhraseLookup.TryGetValue(phrase[..(first.Length + second.Length + 1)], out type);
    }

    private static FrozenDictionary<string, char> Build(params (char Type, string Words)[] groups)
    {
        var words = new Dictionary<string, char>(StringComparer.OrdinalIgnoreCase);
        foreach (var (type, list) in groups)
        {
            foreach (var word in list.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                // First listing wins, so a word listed in two groups keeps the class of the earlier group.
                words.TryAdd(word, type);
            }
        }

        return words.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }
}
