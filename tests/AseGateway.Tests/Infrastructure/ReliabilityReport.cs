using Xunit.Abstractions;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// One row per reliability case (issue 8's runner): "case: figure". Rows go to the test output and, when
/// ASEGATEWAY_RELIABILITY_REPORT names a file, are appended to it so that .ci/run can print them as one table after
/// the test run. Call it with the measured figure before asserting, so a failing case still shows its row.
/// </summary>
public static class ReliabilityReport
{
    private static readonly Lock FileLock = new();

    public static void Row(ITestOutputHelper output, string caseName, string figure, bool passed)
    {
        var line = $"{(passed ? "PASS" : "FAIL")}  {caseName}: {figure}";
        output.WriteLine(line);
        var path = Environment.GetEnvironmentVariable("ASEGATEWAY_RELIABILITY_REPORT");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        lock (FileLock)
        {
            File.AppendAllText(path, line + Environment.NewLine);
        }
    }
}
