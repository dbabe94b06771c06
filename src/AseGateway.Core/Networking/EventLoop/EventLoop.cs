using System.ComponentModel;
using System.Runtime.InteropServices;
using static AseGateway.Networking.EventLoop.LinuxSockets;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// One thread waiting on one epoll set, as nginx's workers do: each socket is registered once, edge-triggered for
/// reading and writing, and its readiness is handled right here — the receive, and whatever the pipe's reader does
/// with the bytes (Kestrel parsing the request, the gateway forwarding it), runs on this thread with no hand-off to
/// the thread pool. Work that waits (a worker's response) resumes on the loop of the socket that brings it.
/// </summary>
internal sealed unsafe class EventLoop : IDisposable
{
    /// <summary>The registration data of the loop's own wake-up eventfd; sockets count from 1.</summary>
    private const ulong WakeData = 0;

    private const int EventsPerWait = 128;

    private readonly SocketTable _sockets = new();
    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly Action<Exception> _onUnexpected;
    [ThreadStatic]
    private static EventLoop? _current;
    private volatile bool _stopping;

    public EventLoop(string name, int index, Action<Exception> onUnexpected)
    {
        Index = index;
        _onUnexpected = onUnexpected;
        _epoll = EpollCreate(EpollCloexec);
        if (_epoll < 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "epoll_create1 failed");
        }

        _wake = EventFd(0, EfdCloexec | EfdNonBlock);
        var registration = new EpollEvent { Events = EpollIn, Data = WakeData };
        if (_wake < 0 || EpollControl(_epoll, EpollCtlAdd, _wake, &registration) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            Close(_epoll);
            throw new Win32Exception(error, "eventfd registration failed");
        }

        _thread = new Thread(static state => ((EventLoop)state!).Run()) { IsBackground = true, Name = name };
        _thread.UnsafeStart(this);
    }

    /// <summary>The loop whose thread is running the caller, or null off the loops.</summary>
    public static EventLoop? Current => _current;

    /// <summary>Its place in its <see cref="EventLoopGroup"/>.</summary>
    public int Index { get; }

    /// <summary>Sockets registered now (tests check that closed ones are gone).</summary>
    public int Count => _sockets.Count;

    public bool IsLoopThread => Thread.CurrentThread == _thread;

    /// <summary>Starts delivering the socket's readiness; data already waiting is reported at once.</summary>
    public ulong Register(EventLoopSocket socket)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var id = _sockets.Add(socket);
        var registration = new EpollEvent { Events = EpollIn | EpollOut | EpollRdHup | EpollEt, Data = id };
        if (EpollControl(_epoll, EpollCtlAdd, socket.Handle, &registration) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            _sockets.Remove(id);
            throw new Win32Exception(error, "epoll_ctl(ADD) failed");
        }

        return id;
    }

    /// <summary>
    /// Stops delivering events for the socket. An event already collected by the running wait finds no socket under
    /// the id and is dropped, so a socket is never called after this returns to its last owner.
    /// </summary>
    public void Unregister(ulong id, SafeHandle handle)
    {
        // After Dispose the epoll descriptor's number may already belong to another file.
        if (_sockets.Remove(id) && !handle.IsClosed && !_stopping)
        {
            // Closing the descriptor would remove it too; removing it first keeps a lingering duplicate from
            // reporting events for a connection that is gone. A failure means it is already closed.
            _ = EpollControl(_epoll, EpollCtlDel, handle, null);
        }
    }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        ulong one = 1;
        _ = Write(_wake, &one, sizeof(ulong));
        if (!IsLoopThread)
        {
            _thread.Join();
        }

        Close(_wake);
        Close(_epoll);
    }

    private void Run()
    {
        _current = this;
        var events = stackalloc EpollEvent[EventsPerWait];
        while (!_stopping)
        {
            var count = EpollWait(_epoll, events, EventsPerWait, -1);
            if (count < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error == EINTR)
                {
                    continue;
                }

                _onUnexpected(new Win32Exception(error, "epoll_wait failed"));
                return;
            }

            for (var i = 0; i < count; i++)
            {
                Dispatch(events[i].Events, events[i].Data);
            }
        }
    }

    private void Dispatch(uint ready, ulong data)
    {
        if (data == WakeData)
        {
            ulong value;
            _ = Read(_wake, &value, sizeof(ulong));
            return;
        }

        if (_sockets.Find(data) is not { } socket)
        {
            return;
        }

        try
        {
            // Errors and hang-ups wake both directions: each finds out by its own call what happened.
            if ((ready & (EpollOut | EpollErr | EpollHup)) != 0)
            {
                socket.OnWritable();
            }

            if ((ready & (EpollIn | EpollRdHup | EpollErr | EpollHup)) != 0)
            {
                socket.OnReadable((ready & (EpollRdHup | EpollErr | EpollHup)) != 0);
            }
        }
        catch (Exception exception)
        {
            // The pipe readers run here inline and catch their own failures; anything reaching this point is a bug,
            // reported without taking the loop (and every other connection on it) down.
            _onUnexpected(exception);
        }
    }
}
