using System.Net.Sockets;

namespace AseGateway.Tests.Infrastructure;

/// <summary>What a plain loopback peer reads from a socket under test.</summary>
internal static class PeerReads
{
    /// <summary>
    /// Everything until the other side's FIN, each receive bounded by <paramref name="timeout"/>. With
    /// <paramref name="pauses"/>, the peer stops reading for 20 ms after about one receive in 20, so that the sender's
    /// socket fills now and then.
    /// </summary>
    public static async Task<byte[]> AllAsync(Socket peer, TimeSpan timeout, Random? pauses = null)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await peer.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(timeout)) > 0)
        {
            received.Write(buffer, 0, n);
            if (pauses?.Next(20) == 0)
            {
                await Task.Delay(20);
            }
        }

        return received.ToArray();
    }
}
