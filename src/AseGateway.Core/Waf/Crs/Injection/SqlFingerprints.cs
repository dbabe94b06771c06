using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace AseGateway.Waf.Crs.Injection;

/// <summary>
/// The fingerprints of SQL injection: token-class sequences (at most five classes) that a tokenized input must begin
/// with to be an attack.
/// <para>
/// How the set was built. An injection is text that, pasted into a query, ends the value it was meant to be and goes
/// on as SQL. So every shape below is "what the attacker's text starts with" followed by "the SQL it turns into":
/// <list type="bullet">
/// <item>the start: in a quote context the rest of the host string (<c>s</c>), possibly closing parentheses
/// (<c>s)</c>, <c>s))</c>); as-is a number or variable (<c>1</c>, <c>v</c>: numeric parameters), more cautiously a
/// bare word (<c>n</c>), or nothing at all (the whole value is a statement or a function call);</item>
/// <item>the continuation, by injection family: tautologies and boolean tests (logic then a comparison:
/// <c>&amp;1=1</c>, <c>&amp;s=s</c>), time and error probes (a function call: <c>&amp;f(</c>, <c>of(</c>), UNION
/// queries (<c>UE</c>), stacked queries (<c>;E</c>, <c>;T</c>), comment truncation (<c>c</c>), ORDER/GROUP BY column
/// probing (<c>B1</c>), SQL Server delays (<c>T</c>) and string concatenation (<c>o</c>, <c>||</c>).</item>
/// </list>
/// Each line is a pattern: <c>[..]</c> is one of the listed classes, a final <c>*</c> means "followed by anything
/// (or nothing)". Patterns are expanded into concrete fingerprints when the class loads. Continuations that English
/// prose produces after an apostrophe (<c>s</c> followed by a bare word, <c>s&amp;n</c> "the students' or teachers")
/// are deliberately left out; the detector's unit tests hold both sides.
/// </para>
/// </summary>
internal static class SqlFingerprints
{
    /// <summary>The patterns, grouped by injection family.</summary>
    internal static readonly string[] Patterns =
    [
        // --- Quote context: the input closed a string (s) and continues as SQL. ---
        "s&[1v(E]*",           // ' or 1=1 | ' and @x | ' or (1)=(1) | ' and select
        "s&s[=&;c)]*",         // ' or 'a'='a | ' || 'x' -- (not "x" and "y" and more prose)
        "s&f(*",               // ' and sleep(5) | ' or extractvalue(...
        "s&n[=(]*",            // ' or a=a | ' and unknown_function(
        "s&no[1sv]*",          // ' or a+1 ...
        "s=[1svf(]*",          // '='a | '=1 | '=sleep(
        "so[1vf(]*",           // '+1 | ' + sleep(5) + ' (not "so" then a string: "press '+' to add")
        "son[o&;c]*",          // " | type %x% | " : expression chains | x'|email--
        "s[o=&]nc",            // id'is not-id-- : a comparison cut short by a comment
        "s)[UE;o=cBT)]*",      // ') union select | '); drop | ')-- | '))
        "s)&[1sv(fE]*",        // ') or ('1 | ') and 1=1
        "s)&n[=(]*",           // ') or a=a
        "s;[ETk(vc]*",         // '; drop table | '; waitfor | '; set @a | ';--
        "s;",                  // admin@example.com'; : the query ends early
        "sU[E(]*",             // ' union select | ' union (select
        "sE[1ofv(]*",          // ' select 1 | ' select * | ' select @@version
        "sB[1ns]*",            // ' order by 1 | ' group by x
        "sT*",                 // ' waitfor delay '0:0:5'
        "sc*",                 // admin'-- | admin'#
        "sf(*",                // "sleep(5)" glued to the closing quote
        "s,[1sv][,)]*",        // ', 1, 2) : INSERT column shifting
        "s,f(*",               // ', sleep(5)
        "s=s",

        // --- As-is after a number or variable (numeric parameters). ---
        "[1v]&[1sv][=o&]*",    // 1 or 1=1 | 1 and 2>1
        "[1v]&f(*",            // 1 and sleep(5)
        "[1v]&(*",             // 1 and (select ...
        "[1v]&E*",             // 1 and select
        "[1v]&n=*",            // 1 or a=a
        "[1v]U[E(]*",          // 1 union select
        "[1v];[ET]*",          // 1; drop table | 1; waitfor delay
        "[1v]B1*",             // 1 order by 1
        "[1v]T*",              // 1 waitfor delay
        "[1v]of(*",            // 1+sleep(5)
        "[1v]o(E*",            // 1+(select
        "[1v]=(E*",            // 1=(select
        "[1v])&[1sv(f]*",      // 1) or (1=1
        "[1v])U[E(]*",         // 1) union select
        "[1v]);[ET]*",         // 1); drop
        "[1v])B1*",            // 1) order by 1

        // --- As-is after a bare word: only shapes that prose does not make. ---
        "n&[1sv]=*",           // x or 1=1
        "n&f(*",               // x and sleep(5)
        "n&(E*",               // x and (select
        "nUE*",                // x union select
        "n;E[ko1(f]*",         // x; drop table | x; select *
        "n;T*",                // x; waitfor
        "n)U[E(]*",            // x) union select
        "n)&(*",               // x) or (1=1
        "nB1*",                // x order by 1

        // --- The whole value is a statement, a UNION or a function call. ---
        "UE*",                 // union select ...
        "U(E*",                // union (select ...
        "Eo[k,]*",             // select * from | select *,
        "Ef(*",                // select sleep(5)
        "Ev*",                 // select @@version
        "E1,*",                // select 1,2,3
        "E([1svfE(]*",         // select(...) (not "Delete (Trashcan)")
        "EE*",                 // exec xp_cmdshell 'dir'
        "Ekn",                 // drop table users
        "Ekn[;c]*",
        "(E*",                 // (select ...)
        "(f(*",                // (load_file( | (convert(int,(select ...
        "Bf(*",                // having count(x) > 5
        "&[1sv]=[1sv]*",       // and 1=1 : the value is the tail of a condition
        ";[ET]*",              // ;drop | ;update users | ;waitfor delay
        "Ts*",                 // waitfor delay '0:0:5'
        "f(",                  // sleep( : the call is finished by the query around it
        "f([1sv])",            // sleep(20) | char(65)
        "f([1sv])[&o=;c]*",
        "f([1sv],*",           // concat(1,...
        "f()",                 // version()
        "f()[&o=;c]*",
        "f(f(*",               // ascii(substring(...
        "f(E*",                // exists(select ...
    ];

    /// <summary>Every class a token can have: what <c>*</c> stands for.</summary>
    internal const string Alphabet = "s1nvfkUEBTo=&(),;c?";

    private const int MaxLength = 5;

    private static readonly FrozenSet<string> Exact;
    private static readonly FrozenSet<string> OpenEnded;
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> ExactLookup;
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> OpenEndedLookup;

    /// <summary>
    /// Matched fingerprints handed back to callers, so that a repeated attack shape costs no allocation. Bounded: past
    /// the bound a match allocates its string.
    /// </summary>
    private static readonly ConcurrentDictionary<string, string> Interned = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> InternedLookup =
        Interned.GetAlternateLookup<ReadOnlySpan<char>>();
    private const int MaxInterned = 4096;

#pragma warning disable CA1810 // the two sets come from one expansion; a static constructor keeps that in one place
    static SqlFingerprints()
#pragma warning restore CA1810
    {
        var exact = new HashSet<string>(StringComparer.Ordinal);
        var openEnded = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pattern in Patterns)
        {
            var isOpenEnded = pattern.EndsWith('*');
            foreach (var fingerprint in Expand(isOpenEnded ? pattern[..^1] : pattern))
            {
                (isOpenEnded ? openEnded : exact).Add(fingerprint);
            }
        }

        Exact = exact.ToFrozenSet(StringComparer.Ordinal);
        OpenEnded = openEnded.ToFrozenSet(StringComparer.Ordinal);
        ExactLookup = Exact.GetAlternateLookup<ReadOnlySpan<char>>();
        OpenEndedLookup = OpenEnded.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of concrete fingerprints (exact plus open-ended prefixes), for tests and documentation.</summary>
    internal static int Count => Exact.Count + OpenEnded.Count;

    /// <summary>True when the fingerprint, or one of its prefixes that a pattern leaves open-ended, is an attack shape.</summary>
    public static bool IsAttack(ReadOnlySpan<char> fingerprint)
    {
        if (ExactLookup.Contains(fingerprint))
        {
            return true;
        }

        for (var length = fingerprint.Length; length >= 1; length--)
        {
            if (OpenEndedLookup.Contains(fingerprint[..length]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The fingerprint as a string, shared between calls for shapes already seen.</summary>
    public static string ToInternedString(ReadOnlySpan<char> fingerprint)
    {
        if (InternedLookup.TryGetValue(fingerprint, out var existing))
        {
            return existing;
        }

        var created = fingerprint.ToString();
        return Interned.Count < MaxInterned ? Interned.GetOrAdd(created, created) : created;
    }

    /// <summary>All concrete strings a pattern without the trailing <c>*</c> stands for.</summary>
    internal static List<string> Expand(string pattern)
    {
        var results = new List<string> { string.Empty };
        for (var i = 0; i < pattern.Length; i++)
        {
            string choices;
            if (pattern[i] == '[')
            {
                var close = pattern.IndexOf(']', i);
                choices = pattern[(i + 1)..close];
                i = close;
            }
            else
            {
                choices = pattern[i].ToString();
            }

            var next = new List<string>(results.Count * choices.Length);
            foreach (var prefix in results)
            {
                foreach (var choice in choices)
                {
                    next.Add(prefix + choice);
                }
            }

            results = next;
        }

        foreach (var result in results)
        {
            if (result.Length > MaxLength || !result.All(Alphabet.Contains))
            {
                throw new InvalidOperationException($"Fingerprint pattern '{pattern}' makes '{result}', which is not a fingerprint.");
            }
        }

        return results;
    }
}
