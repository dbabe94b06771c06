using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using AseGateway.Networking;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// Writes a request body of unknown length chunked (RFC 9112 §7.1): a chunk per part handed in, its size in hex
/// without extensions, and a last chunk without trailers. Nothing is flushed.
/// </summary>
internal static class ChunkedEncoder
{
    /// <summary>Hex digits of a long, and the CRLF after them.</summary>
    private const int MaxSizeLine = 16 + 2;

    private static readonly StandardFormat Hex = new('X');

    /// <summary>One chunk of <paramref name="data"/>, which must not be empty: an empty chunk ends the body.</summary>
    public static void WriteChunk(PipeWriter writer, in ReadOnlySequence<byte> data)
    {
        var line = writer.GetSpan(MaxSizeLine);
        _ = Utf8Formatter.TryFormat(data.Length, line, out var digits, Hex);
        line[digits] = (byte)'\r';
        line[digits + 1] = (byte)'\n';
        writer.Advance(digits + 2);
        writer.Write(data);
        writer.Write("\r\n"u8);
    }

    public static void WriteLastChunk(PipeWriter writer) => writer.Write("0\r\n\r\n"u8);
}
