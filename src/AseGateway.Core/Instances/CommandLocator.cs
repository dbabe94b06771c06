namespace AseGateway.Instances;

/// <summary>Finds the program a run config names, as a shell would: a path relative to the config, or a name on PATH.</summary>
internal static class CommandLocator
{
    public static string? Resolve(string command, string baseDirectory)
    {
        if (command.Contains(Path.DirectorySeparatorChar) || command.Contains(Path.AltDirectorySeparatorChar))
        {
            var path = Path.GetFullPath(command, baseDirectory);
            return File.Exists(path) ? path : null;
        }

        var searchPath = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var folder in searchPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, command);
            if (File.Exists(candidate))
            {
                return candidate;
            }

            if (OperatingSystem.IsWindows() && File.Exists(candidate + ".exe"))
            {
                return candidate + ".exe";
            }
        }

        // "dotnet" may not be on PATH when the gateway itself was started by full path: use the running host.
        if (string.Equals(command, "dotnet", StringComparison.OrdinalIgnoreCase)
            && Environment.ProcessPath is { } host
            && Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return host;
        }

        return null;
    }
}
