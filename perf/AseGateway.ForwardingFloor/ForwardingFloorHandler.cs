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
/// keep-alive connection of the client's loop, and the worker's answer is copied back. How the heads are handled is
/// the <see cref="IHeadModel"/>'s. Left out, because a measuring instrument does not need them: request bodies,
/// answers not framed by Content-Length, timeouts, limits and every check of the request beyond finding its head's
/// end. Anything it does not handle closes the connection.
/// </summary>
internal sealed class ForwardingFloorHandler(UpstreamPool pool, FloorOptions options) : ConnectionHandler
{
    private const int MaxConnections = 1024;
    private const long IdleTimeoutMs = 60_000;

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "unknown";
        var added = Encoding.ASCII.GetBytes($"X-Forwarded-For: {remote}\r\nX-Forwarded-Proto: http\r\n\r\n");
        IHeadModel heads = options.HttpContextModel ? new HttpContextHeads(added) : new ByteHeads(added);
        var received = new byte[HeadLimits.MaxHeadBytes];
        var forwarded = new byte[HeadLimits.MaxForwardedHeadBytes];
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, HeadLimits.MaxHeadBytes);
            buffer.Slice(0, length).CopyTo(received);
            var end = received.AsSpan(0, length).IndexOf(HeadEnd);
            if (end < 0)
            {
                if (result.IsCompleted || length == HeadLimits.MaxHeadBytes)
                {
                    return;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            input.AdvanceTo(buffer.GetPosition(end + HeadEnd.Length));
            var headLength = await heads.PrepareRequestAsync(received.AsMemory(0, end + 2), forwarded);
            if (headLength < 0 || !await ForwardAsync(connection, heads, forwarded.AsMemory(0, headLength), output))
            {
                return;
            }
        }
    }

    private async ValueTask<bool> ForwardAsync(ConnectionContext client, IHeadModel heads, ReadOnlyMemory<byte> head, PipeWriter output)
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

            reusable = await CopyAnswerAsync(upstream, heads, output);
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

    /// <summary>
    /// Copies the worker's answer to the client: its head once parsed, then a Content-Length body as it arrives. False
    /// when the connection cannot go on: an answer the floor does not handle, or bytes after it.
    /// </summary>
    private static async ValueTask<bool> CopyAnswerAsync(UpstreamConnection upstream, IHeadModel heads, PipeWriter output)
    {
        var answer = upstream.Head;
        var reader = upstream.Reader;
        long remaining;
        while (true)
        {
            var result = await upstream.ReadAsync(CancellationToken.None);
            var buffer = result.Buffer;
            var parsed = ResponseHeadParser.TryParse(buffer, heads.RequestIsHead, answer, out var consumed);
            if (parsed == HeadParseResult.Complete)
            {
                if (answer.IsInterim || answer.Framing is not (ResponseFraming.ContentLength or ResponseFraming.NoBody))
                {
                    return false;
                }

                heads.WriteAnswerHead(buffer.Slice(0, consumed), answer, output);
                remaining = answer.Framing == ResponseFraming.ContentLength ? answer.ContentLength : 0;
                if (remaining == 0)
                {
                    reader.AdvanceTo(buffer.GetPosition(consumed));
                    return answer.KeepAlive && buffer.Length == consumed;
                }

                var first = buffer.Slice(consumed, Math.Min(remaining, buffer.Length - consumed));
                Copy(first, output);
                remaining -= first.Length;
                reader.AdvanceTo(first.End);
                if (remaining == 0)
                {
                    return answer.KeepAlive && buffer.Length == consumed + first.Length;
                }

                break;
            }

            if (parsed == HeadParseResult.Invalid || result.IsCompleted)
            {
                return false;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        while (true)
        {
            var result = await upstream.ReadAsync(CancellationToken.None);
            var buffer = result.Buffer;
            var body = buffer.Slice(0, Math.Min(remaining, buffer.Length));
            Copy(body, output);
            remaining -= body.Length;
            reader.AdvanceTo(body.End);
            if (remaining == 0)
            {
                return answer.KeepAlive && buffer.Length == body.Length;
            }

            if (result.IsCompleted)
            {
                return false;
            }
        }
    }

    private static void Copy(in ReadOnlySequence<byte> bytes, PipeWriter output)
    {
        foreach (var segment in bytes)
        {
            output.Write(segment.Span);
        }
    }
}

/// <summary>How the floor runs: <c>--model bytes</c> (the default) or <c>--model http-context</c>.</summary>
internal sealed record FloorOptions(bool HttpContextModel);

internal static class HeadLimits
{
    public const int MaxHeadBytes = 8192;

    /// <summary>
    /// The forwarded head's room: the head as received, each field written again as <c>name: value</c> (with the
    /// http-context model a field gains at most the one space after its colon, so at most a quarter more), and the two
    /// forwarding fields the floor adds.
    /// </summary>
    public const int MaxForwardedHeadBytes = MaxHeadBytes * 2;
}
