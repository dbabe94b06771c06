using System.Net;
using System.Net.Sockets;

namespace AseGateway.Tests.Infrastructure;

/// <summary>Clients whose connections come from a chosen loopback address (127.0.0.2, 127.0.0.3, ::1 …).</summary>
public static class LoopbackClient
{
    public static HttpClient From(IPAddress source) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });

    public static async Task<HttpResponseMessage> GetAsync(IPAddress source, Uri url, string host, Action<HttpRequestMessage>? configure = null)
    {
        using var client = From(source);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Host = host;
        configure?.Invoke(request);
        return await client.SendAsync(request);
    }

    /// <summary>A raw TCP connection from <paramref name="source"/>; the caller owns the socket.</summary>
    public static async Task<Socket> ConnectAsync(IPAddress source, Uri url)
    {
        var socket = new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(IPAddress.Parse(url.Host.Trim('[', ']')), url.Port);
        return socket;
    }

    /// <summary>
    /// Connects from <paramref name="source"/> and reports whether the server refused the connection without a
    /// byte: a reset that arrives while the connect is still completing counts as refused too.
    /// </summary>
    public static async Task<bool> IsRefusedAsync(IPAddress source, Uri url)
    {
        try
        {
            using var socket = await ConnectAsync(source, url);
            return await IsClosedWithoutBytesAsync(socket);
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>True when the server closed the connection without sending a byte.</summary>
    public static async Task<bool> IsClosedWithoutBytesAsync(Socket socket)
    {
        var buffer = new byte[16];
        try
        {
            await socket.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            return await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0;
        }
        catch (SocketException)
        {
            return true; // reset: closed without an answer
        }
    }
}
