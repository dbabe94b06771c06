using AseGateway.Configuration;

namespace AseGateway.Control;

/// <summary>
/// Where the configuration lives: the single source of truth that file edits and management API calls both
/// change. A file on disk in production; the embedded quickstart lives in memory (changes last until restart).
/// </summary>
public abstract class ConfigSource
{
    /// <summary>A path or a description, shown in logs and the status endpoint.</summary>
    public abstract string Name { get; }

    /// <summary>Relative paths in the configuration resolve against this folder.</summary>
    public abstract string BaseDirectory { get; }

    /// <summary>False for sources that cannot be watched for outside changes (the embedded quickstart).</summary>
    public abstract bool IsWatchable { get; }

    /// <exception cref="IOException">The configuration cannot be read (missing, unreadable).</exception>
    public abstract Task<byte[]> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Replaces the whole configuration atomically: a reader sees the old bytes or the new, never a mix.</summary>
    public abstract Task WriteAsync(byte[] content, CancellationToken cancellationToken);

    public async Task<ConfigLoadResult> LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return Load(await ReadAsync(cancellationToken));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ReadFailed(ex);
        }
    }

    /// <summary>The result for a configuration that could not be read: an error, never "no apps".</summary>
    public ConfigLoadResult ReadFailed(Exception exception)
    {
        var reason = exception is FileNotFoundException or DirectoryNotFoundException ? "the file does not exist" : exception.Message;
        return ConfigLoader.Failed(new ConfigError("$", $"cannot read '{Name}': {reason}"), Name, BaseDirectory);
    }

    /// <param name="sha256">The content's hash, when the caller has already taken it (<see cref="ConfigLoader.Hash"/>).</param>
    public ConfigLoadResult Load(byte[] content, string? sha256 = null) => ConfigLoader.Load(content, Name, BaseDirectory, sha256);
}

/// <summary>A configuration file; writes go to a temporary file in the same folder, then rename over the original.</summary>
public sealed class FileConfigSource : ConfigSource
{
    public FileConfigSource(string path)
    {
        FullPath = Path.GetFullPath(path);
        BaseDirectory = Path.GetDirectoryName(FullPath) ?? Directory.GetCurrentDirectory();
    }

    public string FullPath { get; }

    public override string Name => FullPath;

    public override string BaseDirectory { get; }

    public override bool IsWatchable => true;

    public override Task<byte[]> ReadAsync(CancellationToken cancellationToken) => File.ReadAllBytesAsync(FullPath, cancellationToken);

    public override async Task WriteAsync(byte[] content, CancellationToken cancellationToken)
    {
        // Write through a symlink to its target (a Kubernetes-style ..data link stays a link); rename within one
        // folder is atomic, so the watcher and other readers never see a half-written file.
        var target = File.ResolveLinkTarget(FullPath, returnFinalTarget: true)?.FullName ?? FullPath;
        var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
            {
                await stream.WriteAsync(content, cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }

            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}

/// <summary>A configuration held in memory (the embedded quickstart): API changes apply until the process exits.</summary>
public sealed class InMemoryConfigSource : ConfigSource
{
    private byte[] _content;

    public InMemoryConfigSource(byte[] content, string name, string baseDirectory)
    {
        _content = content;
        Name = name;
        BaseDirectory = baseDirectory;
    }

    public override string Name { get; }

    public override string BaseDirectory { get; }

    public override bool IsWatchable => false;

    public override Task<byte[]> ReadAsync(CancellationToken cancellationToken) => Task.FromResult(Volatile.Read(ref _content));

    public override Task WriteAsync(byte[] content, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _content, content);
        return Task.CompletedTask;
    }
}
