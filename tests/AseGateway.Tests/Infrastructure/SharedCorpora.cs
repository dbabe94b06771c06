namespace AseGateway.Tests.Infrastructure;

/// <summary>The shared test corpora (../shared beside the repository). CI has them; a missing folder fails loudly.</summary>
public static class SharedCorpora
{
    public static string Path(params string[] parts)
    {
        var folder = System.IO.Path.Combine([RepoPaths.Root, "..", "shared", .. parts]);
        if (!Directory.Exists(folder))
        {
            Assert.Fail($"The shared corpus '{System.IO.Path.GetFullPath(folder)}' is missing: these tests replay it and cannot pass without it.");
        }

        return System.IO.Path.GetFullPath(folder);
    }
}
