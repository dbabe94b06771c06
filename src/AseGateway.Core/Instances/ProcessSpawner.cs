using System.Collections.Concurrent;
using System.Diagnostics;

namespace AseGateway.Instances;

/// <summary>
/// Starts child processes so that they die with the gateway, even when the gateway is killed with SIGKILL.
/// On Linux each child is started through <c>setpriv --pdeathsig KILL</c>, which asks the kernel to kill the child
/// when its parent goes away. The kernel ties that signal to the parent <em>thread</em> that forked the child, and
/// .NET forks on the calling thread, so every child is forked from this one long-lived thread: forking from thread
/// pool threads would get children killed whenever the pool retires an idle thread.
/// </summary>
internal sealed class ProcessSpawner : IDisposable
{
    private static readonly string? SetPrivPath = FindSetPriv();

    private readonly BlockingCollection<(ProcessStartInfo StartInfo, Action<Process> Configure, TaskCompletionSource<Process> Started)> _requests = new();
    private readonly Thread _thread;

    public ProcessSpawner()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "AseGateway process spawner" };
        _thread.Start();
    }

    /// <summary>Starts the program; <paramref name="configure"/> runs before start (event handlers) on the spawner thread.</summary>
    public Task<Process> StartAsync(ProcessStartInfo startInfo, Action<Process> configure)
    {
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (SetPrivPath is not null)
        {
            // setpriv execs the program in place: the child keeps setpriv's PID, so signals reach the app itself.
            startInfo.ArgumentList.Insert(0, startInfo.FileName);
            startInfo.ArgumentList.Insert(0, "--");
            startInfo.ArgumentList.Insert(0, "--pdeathsig=KILL");
            startInfo.FileName = SetPrivPath;
        }

        _requests.Add((startInfo, configure, started));
        return started.Task;
    }

    public void Dispose() => _requests.CompleteAdding();

    private void Run()
    {
        foreach (var (startInfo, configure, started) in _requests.GetConsumingEnumerable())
        {
            try
            {
                var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
                configure(process);
                process.Start();
                started.TrySetResult(process);
            }
            catch (Exception ex)
            {
                started.TrySetException(ex);
            }
        }
    }

    private static string? FindSetPriv()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        foreach (var candidate in new[] { "/usr/bin/setpriv", "/bin/setpriv" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
