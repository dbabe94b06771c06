namespace AseGateway.Configuration;

/// <summary>The outcome of reading one version of the configuration: the parsed file, or every error found in it.</summary>
public sealed class ConfigLoadResult
{
    internal ConfigLoadResult(GatewayConfig? config, IReadOnlyList<ConfigError> errors, string sha256, string sourceName, string baseDirectory)
    {
        Config = config;
        Errors = errors;
        Sha256 = sha256;
        SourceName = sourceName;
        BaseDirectory = baseDirectory;
    }

    /// <summary>The parsed file when it is valid; null otherwise.</summary>
    public GatewayConfig? Config { get; }

    public IReadOnlyList<ConfigError> Errors { get; }

    public bool IsValid => Config is not null && Errors.Count == 0;

    /// <summary>Lower-case hex SHA-256 of the exact bytes read: reloads skip bytes already applied.</summary>
    public string Sha256 { get; }

    /// <summary>The file path, or a name such as "embedded quickstart".</summary>
    public string SourceName { get; }

    /// <summary>Relative paths in the file (run commands, certificates) resolve against this folder.</summary>
    public string BaseDirectory { get; }
}
