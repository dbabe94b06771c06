using System.Runtime.InteropServices;

namespace AseGateway.Waf.Crs.Injection;

/// <summary>
/// The token classes of the SQL tokenizer. Each is one character so that a fingerprint is simply the classes of the
/// first five folded tokens written side by side (for example <c>s&amp;1=1</c> for <c>x' or 1=1</c>).
/// </summary>
internal static class SqlTokenType
{
    public const char String = 's';
    public const char Number = '1';
    public const char Bareword = 'n';
    public const char Variable = 'v';
    public const char Function = 'f';
    public const char Keyword = 'k';
    public const char Union = 'U';
    public const char Statement = 'E';
    public const char Clause = 'B';
    public const char Delay = 'T';
    public const char Operator = 'o';
    public const char Comparison = '=';
    public const char Logic = '&';
    public const char LeftParen = '(';
    public const char RightParen = ')';
    public const char Comma = ',';
    public const char Semicolon = ';';
    public const char Comment = 'c';
    public const char Unknown = '?';

    /// <summary>
    /// Text no database reads the same way: a block comment that opens another one inside it (PostgreSQL nests
    /// comments, MySQL does not). libinjection calls it evil and reports any value holding one as an injection.
    /// </summary>
    public const char Unparsable = 'X';
}

/// <summary>One token: its class and where its text lies in the input (no copy of the text is made).</summary>
[StructLayout(LayoutKind.Auto)]
internal struct SqlToken
{
    public char Type;
    public int Start;
    public int Length;

    /// <summary>For strings: the quote that opened it, or '\0' when the string began at the start of a quote context.</summary>
    public char OpenQuote;

    /// <summary>For strings: the quote that closed it, or '\0' when the input ended inside the string.</summary>
    public char CloseQuote;

    /// <summary>True for tokens read as a word (keywords, barewords, functions), which may join a following word.</summary>
    public bool IsWord;

    public readonly int End => Start + Length;

    public readonly ReadOnlySpan<char> Text(ReadOnlySpan<char> input) => input.Slice(Start, Length);
}
