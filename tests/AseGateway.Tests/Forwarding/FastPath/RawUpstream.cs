using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AseGateway.Tests.Forwarding.FastPath;

/// <summary>
/// A worker written on a raw socket on 127.0.0.1: it reads HTTP/1.1 requests (head plus a Content-Length or chunked body) and
/// writes back exactly the bytes a script returns, so tests can send what no real server would — obs-folds,
/// conflicting lengths, bad chunk sizes, truncated bodies — and count the connections the gateway opens.
/// </summary>
internal sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<string, RawReply> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;
    private int _used;

    private RawUpstream(Func<string, RawReply> script)
    {
        _script = script;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Url = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    public Uri Url { get; }

    /// <summary>Connections that carried at least one request (the gateway's TCP health probes carry none).</summary>
    public int Connections => Volatile.Read(ref _used);

    /// <summary>Every request head received, in order (body appended after the blank line).</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Replies with the script's bytes for each request (its head and body as text).</summary>
    public static RawUpstream Start(Func<string, RawReply> script) => new(script);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        Task[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

        await Task.WhenAll(open).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_connections)
            {
                _connections.Add(ServeAsync(socket));
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        var first = true;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var request = await ReadRequestAsync(socket, buffer, pending);
                if (request is null)
                {
                    return;
                }

                if (first)
                {
                    first = false;
                    Interlocked.Increment(ref _used);
                }

                Requests.Enqueue(request);
                var reply = _script(request);
                if (reply.Delay > TimeSpan.Zero)
                {
                    await Task.Delay(reply.Delay, _stop.Token);
                }

                if (reply.Bytes.Length > 0)
                {
                    await socket.SendAsync(reply.Bytes, SocketFlags.None, _stop.Token);
                }

                if (reply.Close)
                {
                    socket.Shutdown(SocketShutdown.Both);
                    return;
                }

                if (reply.Unsolicited is { } unsolicited)
                {
                    // Once the gateway has had the answer and pooled the connection: bytes nobody asked for.
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _stop.Token);
                    await socket.SendAsync(unsolicited.Bytes, SocketFlags.None, _stop.Token);
                    unsolicited.Sent.TrySetResult();
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The gateway closed the connection, or the test is over.
        }
    }

    private async Task<string?> ReadRequestAsync(Socket socket, byte[] buffer, MemoryStream pending)
    {
        while (true)
        {
            var text = Encoding.Latin1.GetString(pending.GetBuffer(), 0, (int)pending.Length);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var length = IsChunked(text[..end]) ? ChunkedLength(text, end + 4) : ContentLength(text[..end]);
                if (length >= 0 && text.Length >= end + 4 + length)
                {
                    var request = text[..(end + 4 + length)];
                    var rest = pending.GetBuffer().AsSpan(request.Length, (int)pending.Length - request.Length).ToArray();
                    pending.SetLength(0);
                    pending.Write(rest);
                    return request;
                }
            }

            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                return null;
            }

            pending.Write(buffer, 0, read);
        }
    }

    private static bool IsChunked(string head) =>
        head.Split("\r\n").Any(line => line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase));

    /// <summary>The length of a whole chunked body starting at <paramref name="start"/>, or -1 while it is not all there.</summary>
    private static int ChunkedLength(string text, int start)
    {
        var position = start;
        while (true)
        {
            var lineEnd = text.IndexOf("\r\n", position, StringComparison.Ordinal);
            if (lineEnd < 0)
            {
                return -1;
            }

            var size = Convert.ToInt32(text[position..lineEnd].Split(';')[0].Trim(), 16);
            position = lineEnd + 2;
            if (size == 0)
            {
                // Trailer fields, then the empty line.
                var trailersEnd = text.IndexOf("\r\n", position, StringComparison.Ordinal);
                while (trailersEnd > position)
                {
                    position = trailersEnd + 2;
                    trailersEnd = text.IndexOf("\r\n", position, StringComparison.Ordinal);
                }

                return trailersEnd < 0 ? -1 : trailersEnd + 2 - start;
            }

            position += size + 2;
            if (position > text.Length)
            {
                return -1;
            }
        }
    }

    /// <summary>The data of a chunked body as <see cref="ChunkedLength"/> delimits it.</summary>
    public static string DecodeChunked(string body)
    {
        var decoded = new StringBuilder();
        var position = 0;
        while (true)
        {
            var lineEnd = body.IndexOf("\r\n", position, StringComparison.Ordinal);
            var size = Convert.ToInt32(body[position..lineEnd].Split(';')[0].Trim(), 16);
            if (size == 0)
            {
                return decoded.ToString();
            }

            decoded.Append(body, lineEnd + 2, size);
            position = lineEnd + 2 + size + 2;
        }
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                return int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}

/// <summary>What the raw worker sends back for one request, and whether it then closes the connection.</summary>
internal sealed record RawReply(byte[] Bytes, bool Close = false)
{
    public TimeSpan Delay { get; init; }

    /// <summary>Sent a moment after the reply, while the connection lies idle in the gateway's pool.</summary>
    public UnsolicitedBytes? Unsolicited { get; init; }

    public static RawReply Text(string raw, bool close = false) => new(Encoding.Latin1.GetBytes(raw), close);
}

/// <summary>Bytes a broken worker writes on an idle keep-alive connection, and when they have been sent.</summary>
internal sealed class UnsolicitedBytes(string raw)
{
    public byte[] Bytes { get; } = Encoding.Latin1.GetBytes(raw);

    public TaskCompletionSource Sent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
