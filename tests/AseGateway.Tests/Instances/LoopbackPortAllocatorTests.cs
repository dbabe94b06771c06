using System.Net;
using System.Net.Sockets;
using AseGateway.Instances;

namespace AseGateway.Tests.Instances;

/// <summary>The ports app instances are told to listen on: below the ephemeral range, in turn, never one that is held.</summary>
public sealed class LoopbackPortAllocatorTests
{
    [Fact]
    public void Ports_ComeFromBelowTheEphemeralRange_InTurn_AndAreFree()
    {
        var allocator = LoopbackPortAllocator.ForEphemeralRange(32768);

        var ports = new List<int>();
        for (var i = 0; i < 50; i++)
        {
            var port = allocator.Next();
            Assert.InRange(port, 20000, 32767);
            AssertFree(port);
            ports.Add(port);
        }

        Assert.Equal(ports.Count, ports.Distinct().Count());
    }

    [Fact]
    public void HeldPort_IsSkipped_AndAFullRangeFallsBackToTheOsChoice()
    {
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        held.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        held.Listen();
        var port = ((IPEndPoint)held.LocalEndPoint!).Port;

        // The range holds only the held port: it is tried and skipped, and the OS picks one.
        var next = new LoopbackPortAllocator(port, port, port).Next();

        Assert.NotEqual(port, next);
        AssertFree(next);
    }

    [Fact]
    public void EphemeralRangeStartingLow_LeavesNoRange_TheOsChooses()
    {
        var port = LoopbackPortAllocator.ForEphemeralRange(1024).Next();

        Assert.InRange(port, 1024, 65535);
        AssertFree(port);
    }

    private static void AssertFree(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
    }
}
