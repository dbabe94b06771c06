using System.Buffers;

namespace AseGateway.Http1Front;

/// <summary>
/// Finds where a chunked request body (RFC 9112 §7.1) that follows a head ends, for the front to read it whole, and
/// copies out its data. Only the plainest form is the front's: chunk sizes of 1-5 hex digits with CRLF right after
/// them (no extensions, no whitespace), data followed by exactly CRLF, the last chunk with no trailer fields, and at
/// most <see cref="RequestHead.MaxBody"/> bytes of data. Anything else, or more, is
/// <see cref="HeadParseResult.Unsupported"/>: Kestrel reads that request from its first byte, so where the front finds
/// a body's end, Kestrel would find it too.
/// </summary>
internal static class ChunkedBodyScanner
{
    /// <summary>Five hex digits reach 0xFFFFF, past <see cref="RequestHead.MaxBody"/>: a longer size is too large anyway.</summary>
    private const int MaxSizeDigits = 5;

    /// <summary>
    /// What the framing may add to the data before the front stops waiting: at most 64 KiB of data in chunks of at
    /// least 16 bytes each (a chunk costs up to 9 bytes of framing).
    /// </summary>
    private const int MaxWireBytes = RequestHead.MaxBody + (RequestHead.MaxBody / 16 * 9) + 16;

    /// <param name="body">The bytes after the head.</param>
    /// <param name="wireLength">With Complete: the body's bytes as sent, chunk framing included.</param>
    /// <param name="dataLength">With Complete: the data, without the framing.</param>
    public static HeadParseResult Scan(in ReadOnlySequence<byte> body, out int wireLength, out int dataLength)
    {
        wireLength = 0;
        dataLength = 0;
        var reader = new SequenceReader<byte>(body);
        while (true)
        {
            var size = 0;
            var digits = 0;
            while (reader.TryPeek(out var next) && HexValue(next) is var value and >= 0)
            {
                if (++digits > MaxSizeDigits)
                {
                    return HeadParseResult.Unsupported;
                }

                size = (size << 4) | value;
                reader.Advance(1);
            }

            if (reader.End)
            {
                return Waiting(body);
            }

            // Anything but CRLF after the digits (an extension, whitespace, a bare LF) is Kestrel's.
            if (digits == 0)
            {
                return HeadParseResult.Unsupported;
            }

            if (!TryCrLf(ref reader, out var partial))
            {
                return partial ? Waiting(body) : HeadParseResult.Unsupported;
            }

            if (size == 0)
            {
                // The last chunk: the empty line must follow at once (trailer fields are Kestrel's).
                if (!TryCrLf(ref reader, out partial))
                {
                    return partial ? Waiting(body) : HeadParseResult.Unsupported;
                }

                wireLength = (int)reader.Consumed;
                return HeadParseResult.Complete;
            }

            dataLength += size;
            if (dataLength > RequestHead.MaxBody)
            {
                return HeadParseResult.Unsupported;
            }

            if (reader.Remaining < size)
            {
                return Waiting(body);
            }

            reader.Advance(size);
            if (!TryCrLf(ref reader, out partial))
            {
                return partial ? Waiting(body) : HeadParseResult.Unsupported;
            }
        }
    }

    /// <summary>
    /// Copies the data of a body <see cref="Scan"/> found Complete into <paramref name="destination"/> (at least its
    /// data length long).
    /// </summary>
    public static void CopyData(in ReadOnlySequence<byte> body, Span<byte> destination)
    {
        var reader = new SequenceReader<byte>(body);
        var written = 0;
        while (true)
        {
            var size = 0;
            while (reader.TryRead(out var next) && next != (byte)'\r')
            {
                size = (size << 4) | HexValue(next);
            }

            reader.Advance(1);
            if (size == 0)
            {
                return;
            }

            reader.UnreadSequence.Slice(0, size).CopyTo(destination[written..]);
            written += size;
            reader.Advance(size + 2);
        }
    }

    private static HeadParseResult Waiting(in ReadOnlySequence<byte> body) =>
        body.Length > MaxWireBytes ? HeadParseResult.Unsupported : HeadParseResult.Incomplete;

    /// <summary>CR then LF; <paramref name="partial"/> when the bytes so far are a start of it (more must arrive).</summary>
    private static bool TryCrLf(ref SequenceReader<byte> reader, out bool partial)
    {
        partial = false;
        if (!reader.TryPeek(out var cr))
        {
            partial = true;
            return false;
        }

        if (cr != (byte)'\r')
        {
            return false;
        }

        if (!reader.TryPeek(1, out var lf))
        {
            partial = true;
            return false;
        }

        if (lf != (byte)'\n')
        {
            return false;
        }

        reader.Advance(2);
        return true;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
