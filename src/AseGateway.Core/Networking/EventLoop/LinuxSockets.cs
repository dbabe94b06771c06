using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// The few Linux calls the event loop makes itself: epoll for readiness, an eventfd to wake a loop, and
/// <c>recv</c>/<c>sendmsg</c> on non-blocking sockets. Sockets are passed as their <see cref="SafeHandle"/>, so a
/// close racing a call waits for it (a reference is held for the call) instead of reusing the number.
/// </summary>
internal static unsafe partial class LinuxSockets
{
    private const string LibC = "libc.so.6";

    public const int EpollCloexec = 0x80000;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;

    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEt = 1u << 31;

    public const int EfdCloexec = 0x80000;
    public const int EfdNonBlock = 0x800;

    /// <summary>No SIGPIPE for a send to a peer that has gone: the call fails with EPIPE instead.</summary>
    public const int MsgNoSignal = 0x4000;

    /// <summary>This call does not block, whatever the socket's mode: it fails with EAGAIN instead.</summary>
    private const int MsgDontWait = 0x40;

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EPIPE = 32;
    public const int ECONNRESET = 104;

    /// <summary>
    /// The loop is built for x86-64 Linux with glibc only: there <c>struct epoll_event</c> is packed (12 bytes, the
    /// layout below); other architectures pad it, and musl has no <c>libc.so.6</c>. Elsewhere Kestrel's socket
    /// transport serves.
    /// </summary>
    public static bool IsSupported { get; } =
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && NativeLibrary.TryLoad(LibC, out _);

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport(LibC, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate(int flags);

    [LibraryImport(LibC, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollControl(int epoll, int operation, SafeHandle socket, EpollEvent* registration);

    [LibraryImport(LibC, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollControl(int epoll, int operation, int fd, EpollEvent* registration);

    [LibraryImport(LibC, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epoll, EpollEvent* events, int capacity, int timeoutMs);

    [LibraryImport(LibC, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport(LibC, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nint count);

    [LibraryImport(LibC, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nint count);

    [LibraryImport(LibC, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    // recv and sendmsg, a pair per request on each side, take the descriptor and not the SafeHandle: the generated
    // marshaller for a SafeHandle holds its reference in a try/finally, and the JIT on 64-bit targets does not inline
    // a P/Invoke inside a try region, so every call went through an IL stub (0.4-0.7% of the samples of ase-full and
    // of the forwarding floor over HTTP/1.1, none since). The two methods below hold the reference themselves, outside
    // any try region: nothing between the add and the release can throw (the generated wrapper only saves errno), and
    // they are never inlined, so no caller's try region (a send's error handling) encloses the call.
    //
    // Nor do the two calls leave cooperative mode (SuppressGCTransition): the transition of an ordinary P/Invoke, a
    // call into the runtime on each side that finds the thread through TLS and links a frame, was most of the 3% of
    // the gateway's samples in libcoreclr, at four calls a request. The price is that a garbage collection waits for a
    // call in progress to return before it can suspend this thread, which is safe only for a call that cannot block:
    // every call here adds MSG_DONTWAIT, so a socket in blocking mode by mistake fails with EAGAIN instead of holding
    // up every thread of the process; what remains is the kernel's work on a non-blocking socket, microseconds.
    //
    // errno is read right after the call, with no branch between (the JIT places the GC poll that follows a call
    // without transition at the end of its block, and a poll that runs can change errno), and stored as the last
    // P/Invoke error only when the call failed: the generated SetLastError wrapper clears errno before every call and
    // stores it after, through a call into the runtime that finds the thread through TLS again.

    /// <summary>
    /// <c>recv</c> on <paramref name="socket"/>, never blocking (MSG_DONTWAIT is added to <paramref name="flags"/>);
    /// errno, when it fails, as <see cref="Marshal.GetLastPInvokeError"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint Receive(SafeHandle socket, byte* buffer, nint length, int flags)
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        var received = ReceiveFrom(socket.DangerousGetHandle(), buffer, length, flags | MsgDontWait);
        var errno = Marshal.GetLastSystemError();
        socket.DangerousRelease();
        if (received < 0)
        {
            Marshal.SetLastPInvokeError(errno);
        }

        return received;
    }

    /// <summary>
    /// <c>sendmsg</c> on <paramref name="socket"/>, never blocking (MSG_DONTWAIT is added to <paramref name="flags"/>);
    /// errno, when it fails, as <see cref="Marshal.GetLastPInvokeError"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint SendMessage(SafeHandle socket, MessageHeader* message, int flags)
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        var sent = SendMessageTo(socket.DangerousGetHandle(), message, flags | MsgDontWait);
        var errno = Marshal.GetLastSystemError();
        socket.DangerousRelease();
        if (sent < 0)
        {
            Marshal.SetLastPInvokeError(errno);
        }

        return sent;
    }

    [LibraryImport(LibC, EntryPoint = "recv")]
    [SuppressGCTransition]
    private static partial nint ReceiveFrom(nint socket, byte* buffer, nint length, int flags);

    [LibraryImport(LibC, EntryPoint = "sendmsg")]
    [SuppressGCTransition]
    private static partial nint SendMessageTo(nint socket, MessageHeader* message, int flags);
}
