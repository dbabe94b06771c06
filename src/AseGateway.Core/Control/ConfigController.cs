using AseGateway.Configuration;
using AseGateway.Instances;
using AseGateway.Model;
using Microsoft.Extensions.Logging;

namespace AseGateway.Control;

/// <summary>
/// The one road every configuration change takes — a file edit, SIGHUP, a reload call, a PUT of a whole file or a
/// scale call: read → skip if unchanged → parse strictly → validate (every error) → compile → swap the snapshot →
/// reconcile instances. Changes are serialised; a refused change leaves the last good snapshot serving and is kept,
/// with its errors, for the status endpoint.
/// </summary>
public sealed partial class ConfigController : IDisposable
{
    private readonly ConfigSource _source;
    private readonly SnapshotHolder _snapshots;
    private readonly InstanceManager _instances;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile ConfigFailure? _lastError;
    private string? _lastRefusedSha256;
    private IReadOnlyList<string> _pendingRestart = [];

    private readonly IReadOnlyList<Waf.IManagedRuleSetProvider> _providers;

    internal ConfigController(ConfigSource source, SnapshotHolder snapshots, InstanceManager instances, TimeProvider time, ILogger<ConfigController> logger, IReadOnlyList<Waf.IManagedRuleSetProvider> providers)
    {
        _providers = providers;
        _source = source;
        _snapshots = snapshots;
        _instances = instances;
        _time = time;
        _logger = logger;
    }

    public ConfigSource Source => _source;

    /// <summary>Raised after every attempt that changed the status (applied or refused).</summary>
    public event Action<ConfigChangeResult>? Changed;

    public ConfigStatus Status
    {
        get
        {
            var snapshot = _snapshots.Current;
            return new ConfigStatus(snapshot.Generation, _source.Name, snapshot.ConfigSha256, snapshot.LoadedAt, _lastError, Volatile.Read(ref _pendingRestart));
        }
    }

    internal GatewaySnapshot Current => _snapshots.Current;

    /// <summary>Reads the source again and applies it if its bytes changed.</summary>
    public async Task<ConfigChangeResult> ReloadAsync(string trigger, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            byte[] content;
            try
            {
                content = await _source.ReadAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Missing (mid-rename, deleted before being recreated) is an error to report, never "no apps".
                return Refuse(_source.ReadFailed(ex), trigger, rememberVersion: null);
            }

            return await ApplyLockedAsync(content, trigger, write: false, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Replaces the whole configuration (the management API's PUT): validated first, written atomically, then applied.</summary>
    /// <param name="ifMatchSha256">The version the caller edited; null skips the check.</param>
    public async Task<ConfigChangeResult> ReplaceAsync(byte[] content, string? ifMatchSha256, string trigger, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var current = await _source.ReadAsync(cancellationToken);
            var currentSha = ConfigLoader.Hash(current);
            if (ifMatchSha256 is not null && !string.Equals(ifMatchSha256, currentSha, StringComparison.OrdinalIgnoreCase))
            {
                return new ConfigChangeResult(ConfigChangeOutcome.PreconditionFailed, _snapshots.Current.Generation, currentSha, []);
            }

            return await ApplyLockedAsync(content, trigger, write: true, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Changes part of the configuration (a scale call): <paramref name="edit"/> gets the current bytes and the
    /// parsed file and returns the new bytes, or an error result. The edit sees the file as it is now — including
    /// a hand edit not yet reloaded — so neither road can undo the other.
    /// </summary>
    public async Task<ConfigChangeResult> EditAsync(Func<byte[], GatewayConfig, EditResult> edit, string trigger, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var current = await _source.ReadAsync(cancellationToken);
            var parsed = _source.Load(current);
            if (!parsed.IsValid)
            {
                // The file on disk is broken (a hand edit in progress): refuse rather than build on it.
                return new ConfigChangeResult(ConfigChangeOutcome.Conflict, _snapshots.Current.Generation, parsed.Sha256,
                    [new ConfigError("$", "the configuration file is currently invalid; fix it (see /api/config/status) before changing it through the API"), .. parsed.Errors]);
            }

            var result = edit(current, parsed.Config!);
            if (result.Content is null)
            {
                return new ConfigChangeResult(result.Outcome, _snapshots.Current.Generation, parsed.Sha256, result.Errors);
            }

            return await ApplyLockedAsync(result.Content, trigger, write: true, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>A dry run: parses and validates without applying or writing anything.</summary>
    public ConfigLoadResult Validate(byte[] content) => _source.Load(content);

    private async Task<ConfigChangeResult> ApplyLockedAsync(byte[] content, string trigger, bool write, CancellationToken cancellationToken)
    {
        var current = _snapshots.Current;
        var running = $"{current.ConfigSha256}/{(current.Tls is { } tls ? tls.Fingerprint : Tls.TlsCompiler.Fingerprint(current.Config, _source.BaseDirectory))}";
        // Hashed once: the poll's shortcut and the parse's result both name the content by it.
        var hash = ConfigLoader.Hash(content);
        if (!write && UnchangedWithoutParsing(hash, current, running) is { } unchanged)
        {
            return unchanged;
        }

        var loaded = _source.Load(content, hash);

        // Certificate files can change under an unchanged configuration (renewal): that is a change too.
        var certificates = loaded.IsValid ? Tls.TlsCompiler.Fingerprint(loaded.Config!, loaded.BaseDirectory) : string.Empty;
        var version = $"{loaded.Sha256}/{certificates}";
        if (!write && (version == running || version == _lastRefusedSha256))
        {
            return Unchanged(current, backToRunning: version == running);
        }

        if (!loaded.IsValid)
        {
            return write
                ? new ConfigChangeResult(ConfigChangeOutcome.Invalid, current.Generation, loaded.Sha256, loaded.Errors)
                : Refuse(loaded, trigger, rememberVersion: version);
        }

        var errors = new List<ConfigError>();
        var warnings = new List<string>();
        var next = SnapshotCompiler.TryCompile(loaded, current.Generation + 1, _time.GetUtcNow(), errors, warnings, _providers, previous: current);
        if (next is null)
        {
            return write
                ? new ConfigChangeResult(ConfigChangeOutcome.Invalid, current.Generation, loaded.Sha256, errors)
                : Refuse(new ConfigLoadResultWithErrors(loaded, errors), trigger, rememberVersion: version);
        }

        foreach (var warning in warnings)
        {
            LogNeedsRestart(_logger, warning);
        }

        if (write)
        {
            await _source.WriteAsync(content, cancellationToken);
        }

        var pending = RestartOnlyChanges(current, next);
        _snapshots.Swap(next);
        await _instances.ReconcileAsync(next);
        _lastError = null;
        _lastRefusedSha256 = null;
        Volatile.Write(ref _pendingRestart, pending);
        LogApplied(_logger, next.Generation, trigger, next.ConfigSha256, next.Apps.Count, next.Instances.Count);
        foreach (var item in pending)
        {
            LogNeedsRestart(_logger, item);
        }

        var result = new ConfigChangeResult(ConfigChangeOutcome.Applied, next.Generation, next.ConfigSha256, []);
        Changed?.Invoke(result);
        return result;
    }

    /// <summary>
    /// A poll (every few seconds) mostly finds the bytes that serve, or the ones last refused: told by their hash alone,
    /// without parsing and validating the whole file again (tens of milliseconds for a thousand apps). Same bytes mean
    /// the same certificate paths, so only the certificate files are read, to notice a renewal. Null: parse it.
    /// </summary>
    private ConfigChangeResult? UnchangedWithoutParsing(string hash, GatewaySnapshot current, string running)
    {
        if (hash == current.ConfigSha256)
        {
            var version = $"{hash}/{Tls.TlsCompiler.Fingerprint(current.Config, _source.BaseDirectory)}";
            return version == running ? Unchanged(current, backToRunning: true) : null;
        }

        // A refused file that did not even load is remembered with no certificate part (see ApplyLockedAsync).
        return $"{hash}/" == _lastRefusedSha256 ? Unchanged(current, backToRunning: false) : null;
    }

    private ConfigChangeResult Unchanged(GatewaySnapshot current, bool backToRunning)
    {
        if (backToRunning && _lastError is not null)
        {
            // The file went back to what serves: the refused version is history.
            _lastError = null;
            _lastRefusedSha256 = null;
        }

        return new ConfigChangeResult(ConfigChangeOutcome.Unchanged, current.Generation, current.ConfigSha256, []);
    }

    private ConfigChangeResult Refuse(ConfigLoadResult loaded, string trigger, string? rememberVersion) => Refuse(new ConfigLoadResultWithErrors(loaded, loaded.Errors), trigger, rememberVersion);

    /// <param name="rememberVersion">The refused version (config and certificate hashes): polls skip it until something changes.</param>
    private ConfigChangeResult Refuse(ConfigLoadResultWithErrors refused, string trigger, string? rememberVersion)
    {
        var (loaded, errors) = refused;
        var current = _snapshots.Current;
        _lastError = new ConfigFailure(_time.GetUtcNow(), loaded.Sha256, trigger, errors);
        _lastRefusedSha256 = rememberVersion;
        LogRefused(_logger, trigger, errors.Count, current.Generation, string.Join("; ", errors));
        var result = new ConfigChangeResult(ConfigChangeOutcome.Invalid, current.Generation, loaded.Sha256, errors);
        Changed?.Invoke(result);
        return result;
    }

    /// <summary>Listeners are sockets bound at start: a change to them is accepted but takes effect on restart.</summary>
    private static List<string> RestartOnlyChanges(GatewaySnapshot running, GatewaySnapshot next)
    {
        var notes = new List<string>();
        if (!running.Listeners.SequenceEqual(next.Listeners))
        {
            notes.Add("frontEnd.listeners changed: restart the gateway to rebind them");
        }

        if (!running.Management.SameEndpoint(next.Management))
        {
            notes.Add("management address/port changed: restart the gateway to rebind it");
        }

        if (!Equals(running.Limits, next.Limits))
        {
            notes.Add("frontEnd.limits changed: the per-client cap applies now, Kestrel's limits and timeouts after a restart");
        }

        if (!Equals(running.Config.Observability?.Tracing, next.Config.Observability?.Tracing))
        {
            notes.Add("observability.tracing changed: restart the gateway to apply it");
        }

        return notes;
    }

    [LoggerMessage(EventId = Logging.EventIds.ConfigLoaded, Level = LogLevel.Information, Message = "Configuration generation {Generation} applied ({Trigger}, sha256 {Sha256}): {Apps} app(s), {Instances} instance(s).")]
    private static partial void LogApplied(ILogger logger, long generation, string trigger, string sha256, int apps, int instances);

    [LoggerMessage(EventId = Logging.EventIds.ConfigInvalid, Level = LogLevel.Error, Message = "Configuration change refused ({Trigger}, {Count} error(s)); generation {Generation} keeps serving: {Errors}")]
    private static partial void LogRefused(ILogger logger, string trigger, int count, long generation, string errors);

    [LoggerMessage(EventId = Logging.EventIds.ConfigError, Level = LogLevel.Warning, Message = "Applied, but {Note}.")]
    private static partial void LogNeedsRestart(ILogger logger, string note);
}

/// <summary>A configuration version and the errors that refused it (parse, validation or certificate loading).</summary>
internal sealed record ConfigLoadResultWithErrors(ConfigLoadResult Loaded, IReadOnlyList<ConfigError> Errors);

/// <summary>What an edit of the configuration produced: new bytes, or why there are none.</summary>
public sealed record EditResult(byte[]? Content, ConfigChangeOutcome Outcome, IReadOnlyList<ConfigError> Errors)
{
    public static EditResult Changed(byte[] content) => new(content, ConfigChangeOutcome.Applied, []);

    public static EditResult Conflict(string path, string message) => new(null, ConfigChangeOutcome.Conflict, [new ConfigError(path, message)]);

    public static EditResult NotFound(string path, string message) => new(null, ConfigChangeOutcome.Invalid, [new ConfigError(path, message)]);
}
