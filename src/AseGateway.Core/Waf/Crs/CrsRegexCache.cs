using System.Buffers;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace AseGateway.Waf.Crs;

/// <summary>
/// One @rx pattern, shared by every rule and every loaded program that uses it. Patterns .NET's linear-time engine
/// accepts (all but a handful of CRS's: it has no lookarounds, backreferences or atomic groups) run on
/// <see cref="RegexOptions.NonBacktracking"/>: no ReDoS, no timeout, and on CRS's large alternations of evasion-tolerant
/// words faster than the compiled backtracking engine. The others are interpreted at first and replaced by their
/// <see cref="RegexOptions.Compiled"/> form once they have run often enough to be worth compiling.
/// </summary>
internal sealed class CrsRegex
{
    /// <summary>Uses before a pattern is queued for compilation: rules that never run (higher paranoia levels skipped
    /// with skipAfter, other request shapes) cost no compilation at all.</summary>
    internal const int CompileAfterUses = 64;

    private readonly string _pattern;
    private readonly RegexOptions _options;
    private Regex _current;
    private int _uses;
    private int _queued;

    public CrsRegex(string pattern, RegexOptions options, TimeSpan timeout)
    {
        _pattern = pattern;
        _options = options;
        Required = CrsRegexPrefilter.RequiredChars(pattern);
        try
        {
            // Linear in the input's length: needs no wall-clock timeout, which on a starved machine fires on benign input.
            _current = new Regex(pattern, options | RegexOptions.NonBacktracking, Regex.InfiniteMatchTimeout);
            IsLinear = true;
            _queued = 1;
        }
        catch (NotSupportedException)
        {
            _current = new Regex(pattern, options, timeout);
        }
    }

    /// <summary>Characters every match contains (see <see cref="CrsRegexPrefilter"/>); null when none are provably required.</summary>
    public SearchValues<char>? Required { get; }

    /// <summary>Runs on the non-backtracking engine (never compiled, never times out).</summary>
    public bool IsLinear { get; }

    public bool IsCompiled => (Volatile.Read(ref _current).Options & RegexOptions.Compiled) != 0;

    /// <summary>The best form available now; counts the use until the pattern is queued (a racy count is fine: it
    /// only decides when to compile, and <see cref="_queued"/> makes sure it is queued once).</summary>
    public Regex Current
    {
        get
        {
            var uses = _uses;
            if (uses < CompileAfterUses && !IsLinear)
            {
                // Whoever writes the last count queues it: one read per call, so no thread can step past it.
                _uses = ++uses;
                if (uses == CompileAfterUses && Interlocked.Exchange(ref _queued, 1) == 0)
                {
                    CrsRegexCache.QueueCompilation(this);
                }
            }

            return Volatile.Read(ref _current);
        }
    }

    internal void Compile()
    {
        var interpreted = Volatile.Read(ref _current);
        var compiled = new Regex(_pattern, _options | RegexOptions.Compiled, interpreted.MatchTimeout);
        try
        {
            // The generated matcher is JIT-compiled at its first match: do that here, not on the request thread that
            // would find it next (all of CRS's per-request patterns turn hot at once, and a request then paid seconds).
            compiled.IsMatch(string.Empty);
        }
        catch (RegexMatchTimeoutException)
        {
        }

        Volatile.Write(ref _current, compiled);
    }
}

/// <summary>
/// The process's @rx patterns by their .NET form. Compiling all of CRS up front costs over a minute of CPU and would
/// block the first request; interpreting all of it costs most of a request's time. So every pattern starts
/// interpreted and the hot ones are compiled one at a time on a below-normal-priority background thread while
/// requests are served; a reload finds its patterns here, already built and often compiled.
/// </summary>
internal static class CrsRegexCache
{
    private static readonly ConcurrentDictionary<(string Pattern, RegexOptions Options), CrsRegex> Patterns = new();
    private static readonly BlockingCollection<CrsRegex> Pending = [];
    private static int _workerStarted;
    private static int _inFlight;

    /// <summary>Off: patterns stay interpreted (the benchmark's baseline, to measure what compilation gains).</summary>
    internal static bool CompileHotPatterns { get; set; } = true;

    /// <summary>Patterns queued or being compiled now.</summary>
    internal static int PendingCount => Volatile.Read(ref _inFlight);

    public static CrsRegex Get(string pattern, RegexOptions options, TimeSpan timeout)
    {
        if (Patterns.TryGetValue((pattern, options), out var existing))
        {
            return existing;
        }

        // Built outside the dictionary's lock; an invalid pattern throws here and is never cached.
        var created = new CrsRegex(pattern, options, timeout);
        return Patterns.GetOrAdd((pattern, options), created);
    }

    internal static void QueueCompilation(CrsRegex regex)
    {
        if (!CompileHotPatterns)
        {
            return;
        }

        Interlocked.Increment(ref _inFlight);
        Pending.Add(regex);
        if (Interlocked.Exchange(ref _workerStarted, 1) == 0)
        {
            new Thread(CompileLoop) { IsBackground = true, Priority = ThreadPriority.BelowNormal, Name = "CRS regex compiler" }.Start();
        }
    }

    private static void CompileLoop()
    {
        foreach (var regex in Pending.GetConsumingEnumerable())
        {
            try
            {
                regex.Compile();
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException)
            {
                // The interpreted form keeps serving: compilation is an optimisation, never a change of behaviour.
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }
}
