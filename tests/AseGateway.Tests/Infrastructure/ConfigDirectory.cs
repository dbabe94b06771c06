using System.Diagnostics;
using System.Text;

namespace AseGateway.Tests.Infrastructure;

/// <summary>A temporary folder holding a real configuration file, changed the ways editors and deployers change it.</summary>
public sealed class ConfigDirectory : IDisposable
{
    public ConfigDirectory()
    {
        Path = Directory.CreateTempSubdirectory("asegateway-test-").FullName;
        FilePath = System.IO.Path.Combine(Path, "ase.json");
    }

    public string Path { get; }

    public string FilePath { get; }

    /// <summary>Plain overwrite in place (what many editors do).</summary>
    public void WriteInPlace(string json) => File.WriteAllText(FilePath, json, new UTF8Encoding(false));

    /// <summary>Write a temporary file, then rename it over the configuration (what deploy tools do).</summary>
    public void WriteByRename(string json)
    {
        var temporary = System.IO.Path.Combine(Path, $"ase.json.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, json, new UTF8Encoding(false));
        File.Move(temporary, FilePath, overwrite: true);
    }

    /// <summary>
    /// Kubernetes ConfigMap layout: <c>ase.json → ..data/ase.json</c>, <c>..data → ..{version}</c>. An update writes a
    /// new version folder and atomically replaces the <c>..data</c> link. A null <paramref name="json"/> makes a
    /// version without the file: <c>ase.json</c> then dangles.
    /// </summary>
    public void WriteConfigMapVersion(string? json)
    {
        var version = $"..{DateTime.UtcNow:yyyy_MM_dd_HH_mm_ss.fffffff}";
        var folder = System.IO.Path.Combine(Path, version);
        Directory.CreateDirectory(folder);
        if (json is not null)
        {
            File.WriteAllText(System.IO.Path.Combine(folder, "ase.json"), json, new UTF8Encoding(false));
        }

        var data = System.IO.Path.Combine(Path, "..data");
        var temporaryLink = System.IO.Path.Combine(Path, "..data_tmp");
        File.CreateSymbolicLink(temporaryLink, version);

        // rename(2) replaces the old link atomically; mv -T does exactly that (File.Move refuses a link to a folder).
        Run("mv", "-Tf", temporaryLink, data);
        if (!File.Exists(FilePath) && new FileInfo(FilePath).LinkTarget is null)
        {
            File.CreateSymbolicLink(FilePath, System.IO.Path.Combine("..data", "ase.json"));
        }
    }

    public void Delete() => File.Delete(FilePath);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { UseShellExecute = false })!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
