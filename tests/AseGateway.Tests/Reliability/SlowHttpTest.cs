using System.Globalization;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// Runs slowhttptest (the Debian package; .ci/run installs it) and reads the per-second statistics it writes:
/// connections connected, closed and pending, and whether its own probe found the service available.
/// </summary>
internal static class SlowHttpTest
{
    public static async Task<SlowHttpTestRun> RunAsync(string arguments, TimeSpan length)
    {
        var tool = InstalledTool.Find("slowhttptest", "these reliability cases");
        var folder = Directory.CreateTempSubdirectory("asegateway-slowhttptest-");
        try
        {
            var prefix = Path.Combine(folder.FullName, "stats");
            var run = await InstalledTool.RunAsync(tool, $"{arguments} -l {(int)length.TotalSeconds} -g -o {prefix}", input: null, length + TimeSpan.FromSeconds(30));

            var csv = prefix + ".csv";
            Assert.True(File.Exists(csv), $"slowhttptest wrote no statistics (exit {run.ExitCode}): {run.Output} {run.Error}");
            return SlowHttpTestRun.Parse(await File.ReadAllLinesAsync(csv), ExitStatus(run.Output + run.Error));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The reason slowhttptest gives for ending ("Hit test time limit", "All sockets closed", …), colours removed.</summary>
    private static string ExitStatus(string text)
    {
        var plain = System.Text.RegularExpressions.Regex.Replace(text, @"\x1b\[[0-9;]*m", string.Empty);
        var at = plain.LastIndexOf("Exit status:", StringComparison.Ordinal);
        return at < 0 ? "unknown" : plain[(at + "Exit status:".Length)..].Split('\n')[0].Trim();
    }
}

/// <summary>One line per second of slowhttptest's CSV: "Seconds,Closed,Pending,Connected,Service Available".</summary>
internal sealed record SlowHttpTestRun(IReadOnlyList<SlowHttpTestSecond> Seconds, string ExitStatus)
{
    /// <summary>slowhttptest stops as soon as every connection of the attack has been closed, before its time limit.</summary>
    public bool EndedBecauseAllClosed => ExitStatus.Contains("closed", StringComparison.OrdinalIgnoreCase) || ExitStatus.Contains("No open connections", StringComparison.OrdinalIgnoreCase);

    public int PeakConnected => Seconds.Max(s => s.Connected);

    public int Closed => Seconds[^1].Closed;

    public int AvailableSeconds => Seconds.Count(s => s.ServiceAvailable);

    /// <summary>The first second, after the peak, with no connection of the attack still open; null if that never came.</summary>
    public int? AllClosedAt
    {
        get
        {
            var peak = Seconds.ToList().FindIndex(s => s.Connected == PeakConnected);
            var end = Seconds.Skip(peak).FirstOrDefault(s => s.Connected == 0 && s.Pending == 0);
            return end?.Second ?? (EndedBecauseAllClosed ? Seconds[^1].Second + 1 : null);
        }
    }

    public static SlowHttpTestRun Parse(string[] lines, string exitStatus)
    {
        var seconds = new List<SlowHttpTestSecond>();
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            if (cells.Length < 5)
            {
                continue;
            }

            seconds.Add(new SlowHttpTestSecond(
                int.Parse(cells[0], CultureInfo.InvariantCulture),
                int.Parse(cells[1], CultureInfo.InvariantCulture),
                int.Parse(cells[2], CultureInfo.InvariantCulture),
                int.Parse(cells[3], CultureInfo.InvariantCulture),
                !cells[4].Trim().Equals("0", StringComparison.Ordinal)));
        }

        Assert.True(seconds.Count > 0, "slowhttptest's statistics are empty");
        return new SlowHttpTestRun(seconds, exitStatus);
    }
}

internal sealed record SlowHttpTestSecond(int Second, int Closed, int Pending, int Connected, bool ServiceAvailable);
