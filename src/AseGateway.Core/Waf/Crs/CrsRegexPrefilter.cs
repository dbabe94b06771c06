using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;
using System.Text.RegularExpressions;

namespace AseGateway.Waf.Crs;

/// <summary>
/// The characters a pattern cannot match without: a set such that every match of the pattern contains at least one
/// of them, computed once at load from the pattern's syntax tree. Most values a request carries hold none of the
/// characters an attack pattern needs (a quote, a bracket, a shell metacharacter ...), so one vectorised scan proves
/// "no match" and the regex does not run.
/// </summary>
/// <remarks>
/// Only what is provably required is used: a literal or class that every match passes through (a concatenation picks
/// its most selective part; an alternation needs one set per branch and unites them; an optional part, a lookaround,
/// an anchor or a backreference requires nothing). Which characters a literal or class admits is decided by .NET's
/// own regex engine (each atom is run on each of the 256 byte values with the case options in force there), so case
/// folding and class semantics are exactly the engine's. Values are byte strings (chars 0-255); a value holding any
/// other char is never filtered. A pattern this parser does not fully understand gets no prefilter.
/// </remarks>
internal static class CrsRegexPrefilter
{
    private static readonly ConcurrentDictionary<(string Atom, bool IgnoreCase), ByteSet> AtomSets = new();

    /// <summary>The required characters of <paramref name="pattern"/> (.NET syntax, the options CRS patterns run with), or
    /// null when nothing is provably required.</summary>
    public static SearchValues<char>? RequiredChars(string pattern)
    {
        ByteSet? required;
        try
        {
            var parser = new Parser(pattern);
            required = parser.ParseAll();
        }
        catch (FormatException)
        {
            return null;
        }

        // A set of more than half the byte values filters almost nothing and costs a scan per value.
        if (required is not { } set || set.Count > 128)
        {
            return null;
        }

        var chars = new char[set.Count];
        var n = 0;
        for (var c = 0; c < 256; c++)
        {
            if (set.Contains(c))
            {
                chars[n++] = (char)c;
            }
        }

        return SearchValues.Create(chars);
    }

    /// <summary>True when <paramref name="value"/> cannot match: it is all byte values and holds none of the required ones.</summary>
    public static bool ProvesNoMatch(SearchValues<char> required, ReadOnlySpan<char> value) =>
        !value.ContainsAny(required) && !value.ContainsAnyExceptInRange('\0', '\u00FF');

    /// <summary>256 bits: which byte values an atom admits.</summary>
    private readonly record struct ByteSet(ulong A, ulong B, ulong C, ulong D)
    {
        public int Count => BitOperations.PopCount(A) + BitOperations.PopCount(B) + BitOperations.PopCount(C) + BitOperations.PopCount(D);

        /// <summary>How often benign text would hit the set: letters, digits and space are everywhere, punctuation is rare.</summary>
        public int Cost => Count + (3 * (BitOperations.PopCount(B & Letters) + BitOperations.PopCount(A & DigitsAndSpace)));

        private const ulong DigitsAndSpace = 0x03FF_0001_0000_0000; // '0'-'9' and ' '
        private const ulong Letters = 0x07FF_FFFE_07FF_FFFE; // 'A'-'Z' and 'a'-'z' among chars 64-127

        public bool Contains(int c) => ((c >> 6) switch { 0 => A, 1 => B, 2 => C, _ => D } & (1UL << (c & 63))) != 0;

        public ByteSet Union(ByteSet other) => new(A | other.A, B | other.B, C | other.C, D | other.D);

        public static ByteSet Of(Regex atom)
        {
            ulong a = 0, b = 0, c = 0, d = 0;
            Span<char> one = stackalloc char[1];
            for (var ch = 0; ch < 256; ch++)
            {
                one[0] = (char)ch;
                if (atom.IsMatch(one))
                {
                    var bit = 1UL << (ch & 63);
                    switch (ch >> 6)
                    {
                        case 0: a |= bit; break;
                        case 1: b |= bit; break;
                        case 2: c |= bit; break;
                        default: d |= bit; break;
                    }
                }
            }

            return new ByteSet(a, b, c, d);
        }
    }

    /// <summary>A recursive-descent reader of .NET regex syntax that computes requirements as it goes; throws
    /// <see cref="FormatException"/> on anything it does not model.</summary>
    private sealed class Parser(string pattern)
    {
        private int _pos;
        private bool _ignoreCase;

        public ByteSet? ParseAll()
        {
            var result = ParseAlternation();
            if (_pos != pattern.Length)
            {
                throw new FormatException("unbalanced ')'");
            }

            return result;
        }

        /// <summary>Branches up to ')' or the end; inline options set inside end with the group.</summary>
        private ByteSet? ParseAlternation()
        {
            var saved = _ignoreCase;
            ByteSet? union = ParseConcatenation();
            var unconstrained = union is null;
            while (_pos < pattern.Length && pattern[_pos] == '|')
            {
                _pos++;
                var branch = ParseConcatenation();
                if (branch is null)
                {
                    unconstrained = true;
                }
                else if (union is { } u)
                {
                    union = u.Union(branch.Value);
                }
            }

            _ignoreCase = saved;
            return unconstrained ? null : union;
        }

        private ByteSet? ParseConcatenation()
        {
            ByteSet? best = null;
            while (_pos < pattern.Length && pattern[_pos] is not ('|' or ')'))
            {
                var atom = ParseAtom();
                if (ParseQuantifierAllowsZero())
                {
                    atom = null;
                }

                if (atom is { } set && (best is null || set.Cost < best.Value.Cost))
                {
                    best = set;
                }
            }

            return best;
        }

        /// <summary>Reads a quantifier after an atom, if any; true when it allows zero repetitions.</summary>
        private bool ParseQuantifierAllowsZero()
        {
            if (_pos >= pattern.Length)
            {
                return false;
            }

            bool allowsZero;
            switch (pattern[_pos])
            {
                case '*' or '?':
                    allowsZero = true;
                    _pos++;
                    break;
                case '+':
                    allowsZero = false;
                    _pos++;
                    break;
                case '{' when TryReadBraces(out var min):
                    allowsZero = min == 0;
                    break;
                default:
                    return false;
            }

            if (_pos < pattern.Length && pattern[_pos] == '?')
            {
                _pos++;
            }

            return allowsZero;
        }

        /// <summary><c>{n}</c>, <c>{n,}</c>, <c>{n,m}</c>; anything else is a literal '{' (as .NET reads it).</summary>
        private bool TryReadBraces(out int min)
        {
            min = 0;
            var i = _pos + 1;
            var start = i;
            while (i < pattern.Length && char.IsAsciiDigit(pattern[i]))
            {
                i++;
            }

            if (i == start || !int.TryParse(pattern.AsSpan(start, i - start), out min))
            {
                return false;
            }

            if (i < pattern.Length && pattern[i] == ',')
            {
                i++;
                while (i < pattern.Length && char.IsAsciiDigit(pattern[i]))
                {
                    i++;
                }
            }

            if (i >= pattern.Length || pattern[i] != '}')
            {
                return false;
            }

            _pos = i + 1;
            return true;
        }

        private ByteSet? ParseAtom()
        {
            var c = pattern[_pos];
            switch (c)
            {
                case '(':
                    return ParseGroup();
                case '[':
                    return SetOf(ReadClass());
                case '\\':
                    return ParseEscape();
                case '^' or '$':
                    _pos++;
                    return null;
                case '*' or '+' or '?':
                    throw new FormatException("quantifier without an atom");
                default:
                    _pos++;
                    return SetOf(c == '.' ? "." : Regex.Escape(c.ToString()));
            }
        }

        private ByteSet? ParseGroup()
        {
            _pos++;
            if (_pos < pattern.Length && pattern[_pos] == '?')
            {
                _pos++;
                var next = _pos < pattern.Length ? pattern[_pos] : '\0';
                switch (next)
                {
                    case ':' or '>':
                        _pos++;
                        return CloseGroup(ParseAlternation());
                    case '=' or '!':
                        _pos++;
                        _ = ParseAlternation();
                        return CloseGroup(null);
                    case '<' when _pos + 1 < pattern.Length && pattern[_pos + 1] is '=' or '!':
                        _pos += 2;
                        _ = ParseAlternation();
                        return CloseGroup(null);
                    case '<' or '\'':
                        var close = pattern.IndexOf(next == '<' ? '>' : '\'', _pos + 1);
                        if (close < 0)
                        {
                            throw new FormatException("unterminated group name");
                        }

                        _pos = close + 1;
                        return CloseGroup(ParseAlternation());
                    default:
                        return ParseInlineOptions();
                }
            }

            return CloseGroup(ParseAlternation());
        }

        /// <summary><c>(?imsn-imsn)</c> for the rest of the enclosing group, or <c>(?imsn-imsn:...)</c> for its own.</summary>
        private ByteSet? ParseInlineOptions()
        {
            var on = true;
            var ignoreCase = _ignoreCase;
            while (_pos < pattern.Length && pattern[_pos] is not (')' or ':'))
            {
                switch (pattern[_pos])
                {
                    case '-':
                        on = false;
                        break;
                    case 'i':
                        ignoreCase = on;
                        break;
                    case 's' or 'm' or 'n':
                        // '.' is decided per atom with Singleline as the patterns run; ^/$ and captures require nothing.
                        if (pattern[_pos] == 's' && !on)
                        {
                            throw new FormatException("(?-s) is not modelled");
                        }

                        break;
                    default:
                        throw new FormatException($"group '(?{pattern[_pos]}' is not modelled");
                }

                _pos++;
            }

            if (_pos >= pattern.Length)
            {
                throw new FormatException("unterminated group");
            }

            if (pattern[_pos] == ')')
            {
                _pos++;
                _ignoreCase = ignoreCase;
                return null;
            }

            _pos++;
            var saved = _ignoreCase;
            _ignoreCase = ignoreCase;
            var inner = ParseAlternation();
            _ignoreCase = saved;
            return CloseGroup(inner);
        }

        private ByteSet? CloseGroup(ByteSet? inner)
        {
            if (_pos >= pattern.Length || pattern[_pos] != ')')
            {
                throw new FormatException("unterminated group");
            }

            _pos++;
            return inner;
        }

        private ByteSet? ParseEscape()
        {
            var start = _pos;
            if (_pos + 1 >= pattern.Length)
            {
                throw new FormatException("trailing backslash");
            }

            var e = pattern[_pos + 1];
            _pos += 2;
            switch (e)
            {
                case 'b' or 'B' or 'A' or 'z' or 'Z' or 'G':
                    return null;
                case >= '1' and <= '9':
                    // A backreference: the text it repeats was required where the group matched.
                    while (_pos < pattern.Length && char.IsAsciiDigit(pattern[_pos]))
                    {
                        _pos++;
                    }

                    return null;
                case 'k':
                    throw new FormatException("named backreference");
                case 'x':
                    _pos += 2;
                    break;
                case 'u':
                    _pos += 4;
                    break;
                case 'c':
                    _pos += 1;
                    break;
                case '0':
                    while (_pos < pattern.Length && _pos - start < 4 && pattern[_pos] is >= '0' and <= '7')
                    {
                        _pos++;
                    }

                    break;
                case 'p' or 'P':
                    var close = pattern.IndexOf('}', _pos);
                    _pos = close < 0 ? throw new FormatException("unterminated \\p{}") : close + 1;
                    break;
            }

            if (_pos > pattern.Length)
            {
                throw new FormatException("truncated escape");
            }

            return SetOf(pattern[start.._pos]);
        }

        /// <summary>The text of a character class, nested subtractions included, as .NET delimits it.</summary>
        private string ReadClass()
        {
            var start = _pos;
            var depth = 0;
            var i = _pos;
            while (i < pattern.Length)
            {
                var c = pattern[i];
                if (c == '\\')
                {
                    i += 2;
                    continue;
                }

                if (c == '[')
                {
                    depth++;
                    i++;

                    // A ']' right after '[' or '[^' is a literal member.
                    if (i < pattern.Length && pattern[i] == '^')
                    {
                        i++;
                    }

                    if (i < pattern.Length && pattern[i] == ']')
                    {
                        i++;
                    }

                    continue;
                }

                if (c == ']' && --depth == 0)
                {
                    _pos = i + 1;
                    return pattern[start.._pos];
                }

                i++;
            }

            throw new FormatException("unterminated class");
        }

        private ByteSet SetOf(string atom) => AtomSets.GetOrAdd((atom, _ignoreCase), static key =>
            ByteSet.Of(new Regex($@"\A(?:{key.Atom})\z", RegexOptions.CultureInvariant | RegexOptions.Singleline | (key.IgnoreCase ? RegexOptions.IgnoreCase : RegexOptions.None))));
    }
}
