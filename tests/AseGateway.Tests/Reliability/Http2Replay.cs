using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Reliability;

/// <summary>
/// Plays a captured HTTP/2 client byte stream (it starts with the connection preface) over one connection, h2c or
/// TLS with ALPN h2, and records what the server did: the frames it answered with and when it ended the connection.
/// </summary>
internal static class Http2Replay
{
    private const int FrameHeaderLength = 9;
    private const byte RstStreamFrame = 3;
    private const byte GoAwayFrame = 7;
    private const byte HeadersFrame = 1;

    /// <summary>
    /// Sends <paramref name="stream"/> while reading the server's frames, then reads until the server closes or
    /// <paramref name="deadline"/> passes.
    /// </summary>
    public static async Task<Http2ReplayResult> ReplayAsync(IPAddress source, Uri endpoint, bool tls, byte[] stream, TimeSpan deadline)
    {
        var watch = Stopwatch.StartNew();
        using var socket = await LoopbackClient.ConnectAsync(source, endpoint);
        await using var transport = await OpenAsync(socket, tls);
        using var stop = new CancellationTokenSource(deadline);
        var reading = ReadFramesAsync(transport, watch, stop.Token);
        try
        {
            await transport.WriteAsync(stream, stop.Token);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The server may end the connection before the whole stream is written: that is what we measure.
        }

        // Measured from the moment the connection went quiet (the client's last byte or the server's last frame,
        // whichever came later): a session of many legitimate requests takes as long as serving them.
        var written = watch.Elapsed;
        var (result, lastFrame) = await reading;
        var quiet = lastFrame > written ? lastFrame : written;
        return result with { Elapsed = result.Elapsed > quiet ? result.Elapsed - quiet : TimeSpan.Zero };
    }

    /// <summary>
    /// A client that writes and never reads (PING and SETTINGS floods need one: their answers would otherwise let
    /// the server drain). The frames after the first SETTINGS are sent again and again until a write fails — the
    /// server has ended the connection — or <paramref name="deadline"/> passes.
    /// </summary>
    public static async Task<Http2ReplayResult> FloodWithoutReadingAsync(IPAddress source, Uri endpoint, bool tls, byte[] stream, TimeSpan deadline)
    {
        var watch = Stopwatch.StartNew();
        using var socket = await LoopbackClient.ConnectAsync(source, endpoint);
        await using var transport = await OpenAsync(socket, tls);
        using var stop = new CancellationTokenSource(deadline);
        var repeatFrom = 24 + FrameHeaderLength + ReadLength(stream, 24);
        var sent = 0L;
        try
        {
            await transport.WriteAsync(stream, stop.Token);
            sent += stream.Length;
            while (true)
            {
                await transport.WriteAsync(stream.AsMemory(repeatFrom), stop.Token);
                sent += stream.Length - repeatFrom;
            }
        }
        catch (OperationCanceledException)
        {
            return new Http2ReplayResult(false, watch.Elapsed, 0, 0, null, sent);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            return new Http2ReplayResult(true, watch.Elapsed, 0, 0, null, sent);
        }
    }

    private static async Task<Stream> OpenAsync(Socket socket, bool tls)
    {
        var network = new NetworkStream(socket, ownsSocket: false);
        if (!tls)
        {
            return network;
        }

        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http2],
            // An attacker checks nothing; the handshake is not what these cases test.
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        Assert.Equal(SslApplicationProtocol.Http2, ssl.NegotiatedApplicationProtocol);
        return ssl;
    }

    private static async Task<(Http2ReplayResult Result, TimeSpan LastFrame)> ReadFramesAsync(Stream transport, Stopwatch watch, CancellationToken cancellationToken)
    {
        var pending = new List<byte>();
        var buffer = new byte[16 * 1024];
        var resets = 0;
        var responses = 0;
        long? goAwayError = null;
        var closed = false;
        var lastFrame = TimeSpan.Zero;
        try
        {
            while (true)
            {
                var read = await transport.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    closed = true;
                    break;
                }

                lastFrame = watch.Elapsed;
                pending.AddRange(buffer.AsSpan(0, read));
                var consumed = 0;
                while (pending.Count - consumed >= FrameHeaderLength)
                {
                    var length = (pending[consumed] << 16) | (pending[consumed + 1] << 8) | pending[consumed + 2];
                    if (pending.Count - consumed < FrameHeaderLength + length)
                    {
                        break;
                    }

                    var type = pending[consumed + 3];
                    if (type == RstStreamFrame)
                    {
                        resets++;
                    }
                    else if (type == HeadersFrame)
                    {
                        responses++;
                    }
                    else if (type == GoAwayFrame && length >= 8)
                    {
                        var at = consumed + FrameHeaderLength + 4;
                        goAwayError = ((long)pending[at] << 24) | ((long)pending[at + 1] << 16) | ((long)pending[at + 2] << 8) | pending[at + 3];
                    }

                    consumed += FrameHeaderLength + length;
                }

                pending.RemoveRange(0, consumed);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            closed = true; // reset
        }

        return (new Http2ReplayResult(closed, watch.Elapsed, responses, resets, goAwayError, 0), lastFrame);
    }

    private static int ReadLength(byte[] stream, int offset) => (stream[offset] << 16) | (stream[offset + 1] << 8) | stream[offset + 2];
}

/// <param name="Closed">The server ended the connection (FIN or reset) before the deadline.</param>
/// <param name="Elapsed">From the connection going quiet (write-only floods: from connect) to its end, or to the deadline.</param>
/// <param name="Responses">HEADERS frames the server sent (responses).</param>
/// <param name="Resets">RST_STREAM frames the server sent.</param>
/// <param name="GoAwayError">The error code of the server's last GOAWAY, if it sent one.</param>
/// <param name="BytesSent">For write-only floods: how much the client managed to write.</param>
internal sealed record Http2ReplayResult(bool Closed, TimeSpan Elapsed, int Responses, int Resets, long? GoAwayError, long BytesSent)
{
    public string Describe()
    {
        var end = Closed ? $"closed {Elapsed.TotalSeconds:0.00} s after {(BytesSent > 0 ? "connecting" : "going quiet")}" : $"still open after {Elapsed.TotalSeconds:0} s";
        var goAway = GoAwayError is { } code ? $", GOAWAY {ErrorName(code)}" : string.Empty;
        var sent = BytesSent > 0 ? $", {BytesSent / 1024} KiB written" : $", {Responses} responses, {Resets} RST_STREAM";
        return end + goAway + sent;
    }

    private static string ErrorName(long code) => code switch
    {
        0 => "NO_ERROR",
        1 => "PROTOCOL_ERROR",
        2 => "INTERNAL_ERROR",
        3 => "FLOW_CONTROL_ERROR",
        5 => "STREAM_CLOSED",
        6 => "FRAME_SIZE_ERROR",
        7 => "REFUSED_STREAM",
        9 => "COMPRESSION_ERROR",
        11 => "ENHANCE_YOUR_CALM",
        _ => $"0x{code:x}",
    };
}
