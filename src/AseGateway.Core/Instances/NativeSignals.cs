using System.Runtime.InteropServices;

namespace AseGateway.Instances;

/// <summary>POSIX signals that <see cref="System.Diagnostics.Process"/> does not offer: a polite SIGTERM before SIGKILL.</summary>
internal static partial class NativeSignals
{
    private const int SigTerm = 15;

    /// <returns>False when the signal could not be sent (not POSIX, or the process is gone).</returns>
    public static bool TryTerminate(int processId)
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        return Kill(processId, SigTerm) == 0;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);
}
