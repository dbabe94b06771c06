using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AseGateway.Instances;

/// <summary>
/// Picks the loopback ports app instances are told to listen on. A port is free when it is checked, and the child
/// binds it a moment later; whatever binds it in between makes the child fail and restart. The OS's own choice
/// (binding port 0) comes from the ephemeral range, where every outgoing connection (the gateway's to its workers
/// among them) and every other listener on port 0 take their ports too: a port released for the child was seen taken
/// again in that moment. So ports come from below the ephemeral range, which the OS hands out to nobody, in turn from
/// a random start, so that a port an instance just gave up is not handed out again at once. Where no such range is
/// left (an ephemeral range starting low), the OS chooses, as before.
/// </summary>
internal sealed class LoopbackPortAllocator
{
    /// <summary>Ports from here up to the ephemeral range are used: well above the usual services' ports.</summary>
    private const int LowestPort = 20000;

    /// <summary>Fewer candidates than this is not worth a range of its own.</summary>
    private const int MinimumRange = 1024;

    private readonly int _first;
    private readonly int _count;
    private int _next;

    /// <param name="first">The first port of the range to use.</param>
    /// <param name="last">Its last port (inclusive); below <paramref name="first"/> for no range (the OS chooses).</param>
    /// <param name="start">Where in the range to begin.</param>
    public LoopbackPortAllocator(int first, int last, int start)
    {
        _first = first;
        _count = Math.Max(0, last - first + 1);
        _next = _count == 0 ? 0 : (int)((uint)(start - first) % (uint)_count);
    }

    /// <summary>The allocator for this machine: below its ephemeral range, from a random start.</summary>
    public static LoopbackPortAllocator Shared { get; } = ForEphemeralRange(EphemeralRangeStart());

    internal static LoopbackPortAllocator ForEphemeralRange(int ephemeralStart)
    {
        var last = ephemeralStart - 1;
        return last - LowestPort + 1 >= MinimumRange
            ? new LoopbackPortAllocator(LowestPort, last, Random.Shared.Next(LowestPort, last + 1))
            : new LoopbackPortAllocator(1, 0, 0);
    }

    /// <summary>
    /// A port nothing on 127.0.0.1 holds now: the next free one in the range, each tried at most once, else one the OS
    /// chooses.
    /// </summary>
    public int Next()
    {
        for (var tried = 0; tried < _count; tried++)
        {
            var port = _first + (int)((uint)Interlocked.Increment(ref _next) % (uint)_count);
            if (IsFree(port))
            {
                return port;
            }
        }

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static bool IsFree(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// The first port of the OS's ephemeral range: Linux says in /proc; elsewhere the IANA range (49152), which
    /// Windows and macOS use by default.
    /// </summary>
    internal static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (range.Length >= 1 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
            {
                return start;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not Linux, or /proc is not readable: use the IANA range below.
        }

        return 49152;
    }
}
