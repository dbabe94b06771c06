namespace AseGateway.Tests.Infrastructure;

/// <summary>Files of the repository itself (certificates, shipped configurations), found from the test's output folder.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "AseGateway.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No AseGateway.sln above {AppContext.BaseDirectory}: run the tests from the repository.");
    }
}
