using System.Security.Cryptography;
using System.Text;

namespace AseGateway.Waf.Crs;

/// <summary>
/// The compiled CRS programs of the latest configurations, so that a reload which does not touch the CRS reuses them:
/// compiling CRS costs about a second of CPU, checking its files a few milliseconds. A program is reused only when it
/// was loaded with the same settings from the same rule files in the same order (the list is worked out again, so an
/// added, removed or renamed file counts) and every rule and data file still has the same content (SHA-256: a copy
/// that keeps sizes and times, or a clock that does not move, cannot hide a change). Anything else is loaded again,
/// with the same errors as a first load: a broken file fails the reload and the previous snapshot keeps serving.
/// A <see cref="CrsProgram"/> is immutable, so snapshots may share it.
/// </summary>
internal sealed class CrsCompiledRuleSetCache
{
    /// <summary>Distinct load settings kept (policies with different paranoia levels, overrides ...); more is unusual.</summary>
    private const int MaxEntries = 8;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>How many times a program was compiled rather than reused (for tests and diagnostics).</summary>
    public int Compilations { get; private set; }

    /// <exception cref="SecLangException">A rule file does not load (named by file and line).</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public CrsProgram GetOrLoad(CrsLoadOptions options)
    {
        // Held while compiling: reloads come one at a time, and two racing ones should not both spend the second.
        lock (_lock)
        {
            var ruleFiles = CrsRuleSetLoader.RuleFiles(options.RulesPath);
            var key = Key(options);
            var ruleHash = ContentHash(ruleFiles);
            if (_entries.TryGetValue(key, out var cached)
                && ruleHash is not null
                && cached.RuleFiles.SequenceEqual(ruleFiles, StringComparer.Ordinal)
                && cached.RuleHash.AsSpan().SequenceEqual(ruleHash)
                && ContentHash(cached.DataFiles) is { } dataHash
                && cached.DataHash.AsSpan().SequenceEqual(dataHash))
            {
                return cached.Program;
            }

            var program = CrsRuleSetLoader.Load(options, ruleFiles, out var dataFiles);
            Compilations++;

            // Rule files are hashed before the load, data files after it (only the load names them): a file changed
            // meanwhile makes the next reload compile again rather than reuse a program older than the files.
            var loadedDataHash = ContentHash(dataFiles);
            if (ruleHash is not null && loadedDataHash is not null)
            {
                if (_entries.Count >= MaxEntries && !_entries.ContainsKey(key))
                {
                    _entries.Clear();
                }

                _entries[key] = new Entry(ruleFiles, ruleHash, [.. dataFiles], loadedDataHash, program);
            }

            return program;
        }
    }

    private static string Key(CrsLoadOptions options)
    {
        var disabled = options.DisabledRuleIds?.Order(StringComparer.Ordinal) ?? Enumerable.Empty<string>();
        return $"{options.RulesPath}\n{options.ParanoiaLevel}\n{options.DetectionParanoiaLevel}\n{options.InboundAnomalyThreshold}\n{options.OutboundAnomalyThreshold}\n{string.Join(',', disabled)}";
    }

    /// <summary>SHA-256 over every file's path and content in order; null when one cannot be read (then nothing is reused).</summary>
    private static byte[]? ContentHash(IReadOnlyList<string> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        try
        {
            foreach (var file in files)
            {
                var content = File.ReadAllBytes(file);
                hash.AppendData(Encoding.UTF8.GetBytes(file));
                hash.AppendData(BitConverter.GetBytes(content.LongLength));
                hash.AppendData(content);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return hash.GetHashAndReset();
    }

    private sealed record Entry(List<string> RuleFiles, byte[] RuleHash, string[] DataFiles, byte[] DataHash, CrsProgram Program);
}
