using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using AseGateway.Forwarding.FastPath;
using AseGateway.Networking.EventLoop;
using Microsoft.AspNetCore.Connections;

namespace AseGateway.ForwardingFloor;

/// <summary>
/// One client connection: each request head is rewritten as nginx's compare configuration forwards it (the client's
/// Connection, Keep-Alive and forwarding headers dropped, X-Forwarded-For and X-Forwarded-Proto added), sent on a
/// keep-alive connection of the client's loop, and the worker's answer is copied back as it came. Left out, because a
/// measuring instrument does not need them: request bodies, answers not framed by Content-Length, timeouts, limits
/// and every check of the request beyond finding its head's end. Anything it does not handle closes the connection.
/// </summary>
internal sealed class ForwardingFloorHandler(UpstreamPool pool) : ConnectionHandler
{
    private const int MaxHeadBytes = 8192;
    private const int MaxConnections = 1024;
    private const long IdleTimeoutMs = 60_000;

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "unknown";
        var added = Encoding.ASCII.GetBytes($"X-Forwarded-For: {remote}\r\nX-Forwarded-Proto: http\r\n\r\n");
        var received = new byte[MaxHeadBytes];
        var forwarded = new byte[MaxHeadBytes + added.Length];
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, MaxHeadBytes);
            buffer.Slice(0, length).CopyTo(received);
            var end = received.AsSpan(0, length).IndexOf(HeadEnd);
            if (end < 0)
            {
                if (result.IsCompleted || length == MaxHeadBytes)
                {
                    return;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            input.AdvanceTo(buffer.GetPosition(end + HeadEnd.Length));
            var headLength = Rewrite(received.AsSpan(0, end + 2), added, forwarded, out var isHead);
            if (headLength < 0 || !await ForwardAsync(connection, forwarded.AsMemory(0, headLength), isHead, output))
            {
                return;
            }
        }
    }

    /// <summary>The head to send, or -1 for a request the floor does not forward (one with a body).</summary>
    /// <param name="head">The request line and header lines, each ending in CRLF, without the empty line.</param>
    private static int Rewrite(ReadOnlySpan<byte> head, ReadOnlySpan<byte> added, Span<byte> destination, out bool isHead)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        isHead = head.StartsWith("HEAD "u8);
        head[..(lineEnd + 2)].CopyTo(destination);
        var written = lineEnd + 2;
        for (var rest = head[(lineEnd + 2)..]; !rest.IsEmpty;)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var line = rest[..(lineEnd + 2)];
            rest = rest[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            var name = colon < 0 ? line : line[..colon];
            if (IsName(name, "content-length"u8) ? !line[(colon + 1)..].Trim(" \t\r\n"u8).SequenceEqual("0"u8) : IsName(name, "transfer-encoding"u8))
            {
                return -1;
            }

            if (IsName(name, "connection"u8) || IsName(name, "keep-alive"u8) || IsName(name, "x-forwarded-for"u8) || IsName(name, "x-forwarded-proto"u8))
            {
                continue;
            }

            line.CopyTo(destination[written..]);
            written += line.Length;
        }

        added.CopyTo(destination[written..]);
        return written + added.Length;
    }

    private static bool IsName(ReadOnlySpan<byte> name, ReadOnlySpan<byte> lowercase) => Ascii.EqualsIgnoreCase(name, lowercase);

    private async ValueTask<bool> ForwardAsync(ConnectionContext client, ReadOnlyMemory<byte> head, bool isHead, PipeWriter output)
    {
        var near = EventLoop.Current ?? client.Features.Get<IEventLoopFeature>()?.Loop;
        if (!pool.TryRent(MaxConnections, IdleTimeoutMs, near, out var upstream))
        {
            return false;
        }

        try
        {
            upstream ??= await UpstreamConnection.ConnectAsync(pool, near, CancellationToken.None);
        }
        catch (System.Net.Sockets.SocketException)
        {
            pool.ReleaseSlot();
            return false;
        }

        var reusable = false;
        upstream.BeginExchange();
        try
        {
            if (!upstream.SendOrBuffer(head.Span, ReadOnlySequence<byte>.Empty))
            {
                await upstream.Writer.FlushAsync();
            }

            reusable = await CopyAnswerAsync(upstream, isHead, output);
        }
        finally
        {
            if (upstream.EndExchange() && reusable)
            {
                pool.Return(upstream, MaxConnections);
            }
            else
            {
                pool.Close(upstream);
            }
        }

        if (!reusable)
        {
            return false;
        }

        var flushed = await output.FlushAsync();
        return !flushed.IsCompleted && !flushed.IsCanceled;
    }

    /// <summary>Copies the worker's head and Content-Length body to the client; false when the connection cannot go on.</summary>
    private static async ValueTask<bool> CopyAnswerAsync(UpstreamConnection upstream, bool isHead, PipeWriter output)
    {
        var answer = upstream.Head;
        var scratch = Array.Empty<byte>();
        while (true)
        {
            var result = await upstream.ReadAsync(CancellationToken.None);
            var buffer = result.Buffer;
            var span = buffer.IsSingleSegment ? buffer.FirstSpan : (scratch = buffer.ToArray());
            var parsed = ResponseHeadParser.TryParse(span, isHead, answer, out var consumed);
            if (parsed == HeadParseResult.Invalid || (parsed == HeadParseResult.Complete && (answer.IsInterim || answer.Framing is not (ResponseFraming.ContentLength or ResponseFraming.NoBody))))
            {
                return false;
            }

            var total = consumed + (answer.Framing == ResponseFraming.ContentLength ? answer.ContentLength : 0);
            if (parsed == HeadParseResult.Complete && buffer.Length >= total)
            {
                var whole = buffer.Slice(0, total);
                foreach (var segment in whole)
                {
                    output.Write(segment.Span);
                }

                upstream.Reader.AdvanceTo(whole.End);
                return answer.KeepAlive && buffer.Length == total;
            }

            if (result.IsCompleted)
            {
                return false;
            }

            upstream.Reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
