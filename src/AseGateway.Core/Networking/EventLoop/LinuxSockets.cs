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

    /// <summary><c>recv</c> on <paramref name="socket"/>; errno, when it fails, as <see cref="Marshal.GetLastPInvokeError"/>.</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint Receive(SafeHandle socket, byte* buffer, nint length, int flags)
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        var received = ReceiveFrom(socket.DangerousGetHandle(), buffer, length, flags);
        socket.DangerousRelease();
        return received;
    }

    /// <summary><c>sendmsg</c> on <paramref name="socket"/>; errno, when it fails, as <see cref="Marshal.GetLastPInvokeError"/>.</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint SendMessage(SafeHandle socket, MessageHeader* message, int flags)
    {
        var added = false;
        socket.DangerousAddRef(ref added);
        var sent = SendMessageTo(socket.DangerousGetHandle(), message, flags);
        socket.DangerousRelease();
        return sent;
    }

    [LibraryImport(LibC, EntryPoint = "recv", SetLastError = true)]
    private static partial nint ReceiveFrom(nint socket, byte* buffer, nint length, int flags);

    [LibraryImport(LibC, EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessageTo(nint socket, MessageHeader* message, int flags);
}
