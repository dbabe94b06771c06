using AseGateway.Configuration;

namespace AseGateway.Control;

/// <summary>What the control plane last did: the configuration serving now, and the last change it refused.</summary>
public sealed record ConfigStatus(
    long Generation,
    string Source,
    string Sha256,
    DateTimeOffset LoadedAt,
    ConfigFailure? LastError,
    IReadOnlyList<string> PendingRestart);

/// <summary>A configuration version that was refused: every error, the hash of its bytes and when.</summary>
public sealed record ConfigFailure(DateTimeOffset At, string Sha256, string Trigger, IReadOnlyList<ConfigError> Errors);

public enum ConfigChangeOutcome
{
    /// <summary>The new configuration serves.</summary>
    Applied,

    /// <summary>The bytes were already serving (or already refused): nothing to do.</summary>
    Unchanged,

    /// <summary>The configuration is invalid; the last good one keeps serving.</summary>
    Invalid,

    /// <summary>The caller's version (If-Match) is not the current one.</summary>
    PreconditionFailed,

    /// <summary>The change conflicts with the environment's rules or with an operation in progress.</summary>
    Conflict,
}

/// <summary>The outcome of one attempt to change the configuration.</summary>
public sealed record ConfigChangeResult(ConfigChangeOutcome Outcome, long Generation, string Sha256, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Outcome is ConfigChangeOutcome.Applied or ConfigChangeOutcome.Unchanged;
}
