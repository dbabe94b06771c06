namespace AseGateway.Model;

/// <summary>
/// One app on one plan instance: what the configuration asks to exist. A plan instance stands for one worker
/// (an App Service worker VM); every app of the plan runs on it.
/// </summary>
internal sealed record InstanceSpec
{
    /// <summary>Unique and stable across reloads: <c>{app}/{plan}/{index}</c>. Also the YARP destination id.</summary>
    public required string Key { get; init; }

    public required string AppName { get; init; }

    public required string PlanName { get; init; }

    public required string PoolName { get; init; }

    public required int Index { get; init; }

    /// <summary>Short readable name of the plan instance, e.g. <c>dev/0</c>.</summary>
    public string InstanceName => $"{PlanName}/{Index}";

    /// <summary>64 lower-case hex digits like App Service's WEBSITE_INSTANCE_ID; the same for every app on the plan instance.</summary>
    public required string InstanceId { get; init; }

    /// <summary>The app's default host name, given to the instance as WEBSITE_HOSTNAME and used as the health probe's Host.</summary>
    public required string HostName { get; init; }

    /// <summary>Set for a static worker.</summary>
    public Uri? StaticAddress { get; init; }

    /// <summary>Set for a process instance.</summary>
    public ProcessLaunchSpec? Launch { get; init; }

    public required HealthCheckModel HealthCheck { get; init; }
}

/// <summary>How to start one process instance: resolved program, arguments, folder and extra environment.</summary>
internal sealed record ProcessLaunchSpec(string FileName, IReadOnlyList<string> Arguments, string WorkingDirectory, IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>Records compare lists by reference; reconciliation needs to know when what runs really changed.</summary>
    public bool SameAs(ProcessLaunchSpec? other) =>
        other is not null
        && FileName == other.FileName
        && WorkingDirectory == other.WorkingDirectory
        && Arguments.SequenceEqual(other.Arguments)
        && Environment.Count == other.Environment.Count
        && Environment.All(pair => other.Environment.TryGetValue(pair.Key, out var value) && value == pair.Value);
}
