using AseGateway.Configuration;

namespace AseGateway.Observability;

/// <summary>The access log's settings with defaults applied and the path made absolute; part of each snapshot.</summary>
internal sealed record AccessLogModel(
    bool Enabled,
    AccessLogFormat Format,
    string? FullPath,
    long MaxFileBytes,
    int RetainedFiles,
    int QueueCapacity,
    bool IncludeCookies)
{
    /// <summary>35 MB: App Service's default quota for its HTTP logs.</summary>
    public const int DefaultMaxFileSizeInMb = 35;
    public const int DefaultRetainedFiles = 5;
    public const int DefaultQueueCapacity = 10_000;

    public static readonly AccessLogModel Disabled = new(false, AccessLogFormat.W3C, null, DefaultMaxFileSizeInMb * 1024L * 1024L, DefaultRetainedFiles, DefaultQueueCapacity, false);

    public static AccessLogModel Compile(AccessLogConfig? config, string baseDirectory) => config is null || config.Path is null
        ? Disabled
        : new AccessLogModel(
            config.Enabled ?? false,
            config.Format ?? AccessLogFormat.W3C,
            Path.GetFullPath(config.Path, baseDirectory),
            (config.MaxFileSizeInMb ?? DefaultMaxFileSizeInMb) * 1024L * 1024L,
            config.RetainedFiles ?? DefaultRetainedFiles,
            config.QueueCapacity ?? DefaultQueueCapacity,
            config.IncludeCookies ?? false);

    /// <summary>The same file in the same format: the writer may keep appending to the open file.</summary>
    public bool SameFile(AccessLogModel other) => Enabled == other.Enabled && Format == other.Format && string.Equals(FullPath, other.FullPath, StringComparison.Ordinal);
}
