using System.Net;
using System.Net.Sockets;
using System.Text;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Http1Front;

/// <summary>Raw HTTP/1.1 over a socket, for the front's tests: requests as bytes, answers read back as the wire has them.</summary>
internal static class FrontWire
{
    internal static async Task<Socket> ConnectAsync(TestGateway gateway)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, gateway.Url.Port);
        return socket;
    }

    /// <summary>Sends the bytes and reads until that many complete responses (framed by Content-Length or chunks; no body for a HEAD) arrived.</summary>
    internal static async Task<Answer> ExchangeAsync(Socket socket, string raw, int responses, bool headRequest = false)
    {
        await socket.SendAsync(Encoding.Latin1.GetBytes(raw));
        var received = new StringBuilder();
        var buffer = new byte[16384];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // The text is parsed again only once it is as long as the last parse said it must be: parsing all of it after
        // every read made an 8 MiB body quadratic (512 reads, each copying and scanning megabytes), which a loaded
        // machine could not finish within the deadline.
        var needed = 0;
        while (true)
        {
            if (received.Length >= needed)
            {
                var text = received.ToString();
                var statuses = Responses(text, headRequest, out needed);
                if (statuses is not null && statuses.Count >= responses)
                {
                    return new Answer(statuses, text);
                }
            }

            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            if (read == 0)
            {
                return new Answer(Responses(received.ToString(), headRequest, out _) ?? [], received.ToString());
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }
    }

    /// <summary>
    /// The statuses of the complete responses in the text, or null while the last one is still arriving; then
    /// <paramref name="needed"/> is how long the text must grow before that one can be complete (for a body framed by
    /// its length, the end of that body; else one character more).
    /// </summary>
    private static List<int>? Responses(string text, bool headRequest, out int needed)
    {
        var statuses = new List<int>();
        var at = 0;
        needed = text.Length + 1;
        while (at < text.Length)
        {
            var headEnd = text.IndexOf("\r\n\r\n", at, StringComparison.Ordinal);
            if (headEnd < 0)
            {
                return null;
            }

            var head = text[at..headEnd];
            statuses.Add(int.Parse(head.AsSpan(9, 3)));
            at = headEnd + 4;
            var length = Field(head, "Content-Length");
            if (headRequest)
            {
                // A HEAD's answer: its Content-Length describes a body that is not sent.
            }
            else if (Field(head, "Transfer-Encoding") is "chunked")
            {
                var end = text.IndexOf("\r\n0\r\n\r\n", at - 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    return null;
                }

                at = end + 7;
            }
            else if (length is not null && !headRequest)
            {
                if (text.Length - at < int.Parse(length))
                {
                    needed = at + int.Parse(length);
                    return null;
                }

                at += int.Parse(length);
            }
        }

        return statuses;
    }

    private static string? Field(string head, string name)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            {
                return line[(name.Length + 1)..].Trim();
            }
        }

        return null;
    }

    internal static async Task<bool> ClosedAsync(Socket socket, TimeSpan? within = null)
    {
        using var deadline = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(5));
        var buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>What the server sends until it closes the connection, or null when it has not closed it by then.</summary>
    internal static async Task<Answer?> ReadUntilClosedAsync(Socket socket, TimeSpan within)
    {
        using var deadline = new CancellationTokenSource(within);
        var received = new StringBuilder();
        var buffer = new byte[16384];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
            {
                received.Append(Encoding.Latin1.GetString(buffer, 0, read));
            }
        }
        catch (SocketException)
        {
            // A reset closes it too.
        }
        catch (OperationCanceledException)
        {
            return null;
        }

        return new Answer(Responses(received.ToString(), headRequest: false, out _) ?? [], received.ToString());
    }

    internal static async Task WaitForAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    internal sealed record Answer(List<int> Statuses, string Text)
    {
        /// <summary>
        /// The body of the one response in the text, whichever framing the front chose: a body that was all there when
        /// the application ended goes out with its length, one the worker's chunks streamed goes out in chunks.
        /// </summary>
        public string Body
        {
            get
            {
                var headEnd = Text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                var body = Text[(headEnd + 4)..];
                if (Field(Text[..headEnd], "Transfer-Encoding") is not "chunked")
                {
                    return body;
                }

                var decoded = new StringBuilder();
                var at = 0;
                while (true)
                {
                    var sizeEnd = body.IndexOf("\r\n", at, StringComparison.Ordinal);
                    var size = Convert.ToInt32(body[at..sizeEnd], 16);
                    if (size == 0)
                    {
                        return decoded.ToString();
                    }

                    decoded.Append(body, sizeEnd + 2, size);
                    at = sizeEnd + 2 + size + 2;
                }
            }
        }
    }
}
