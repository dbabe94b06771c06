using System.Runtime.InteropServices;

namespace AseGateway.Hosting;

/// <summary>
/// Hands the C heap's free pages back to the kernel now and then (glibc's <c>malloc_trim</c>).
/// </summary>
/// <remarks>
/// Start-up and the first minutes under load (the JIT compiling and recompiling methods, the runtime's type loading,
/// OpenSSL loading certificates and building TLS contexts) allocate and free several MB of native memory. glibc
/// keeps what is freed inside its arenas, resident, unless it sits at an arena's top: measured on the full
/// compare.sh configuration after its warm-up, one <c>malloc_trim(0)</c> took the resident set from 131 to 123 MB
/// (anonymous memory 42.4 to 34.2 MB), and a second one after more load found nothing more to return. So a trim
/// every <see cref="Interval"/> costs a walk over a few MB of free lists and almost never a system call once the
/// process has settled; nothing on a request's path waits for it. On a C library without <c>malloc_trim</c> (musl)
/// the first call fails and the trimmer stops.
/// </remarks>
internal sealed partial class NativeHeapTrimmer : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly PeriodicTimer _timer;
    private readonly Task _loop;
    private readonly Action? _trimmed;

    private NativeHeapTrimmer(TimeSpan interval, TimeProvider time, Action? trimmed)
    {
        _trimmed = trimmed;
        _timer = new PeriodicTimer(interval, time);
        _loop = RunAsync();
    }

    /// <summary>Starts trimming every <paramref name="interval"/>; null where there is no glibc to trim (not Linux).</summary>
    /// <param name="trimmed">Called after each trim (tests).</param>
    public static NativeHeapTrimmer? Start(TimeSpan interval, TimeProvider? time = null, Action? trimmed = null) =>
        OperatingSystem.IsLinux() ? new NativeHeapTrimmer(interval, time ?? TimeProvider.System, trimmed) : null;

    /// <summary>One trim now.</summary>
    /// <returns>Whether the C library returned memory to the kernel; null when it has no <c>malloc_trim</c>.</returns>
    public static bool? TryTrim()
    {
        try
        {
            return MallocTrim(0) != 0;
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
        catch (DllNotFoundException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        await _loop;
    }

    private async Task RunAsync()
    {
        while (await _timer.WaitForNextTickAsync())
        {
            if (TryTrim() is null)
            {
                return;
            }

            _trimmed?.Invoke();
        }
    }

    /// <param name="pad">Bytes to leave untrimmed at the main heap's top.</param>
    /// <returns>1 when memory was returned to the kernel, else 0.</returns>
    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
