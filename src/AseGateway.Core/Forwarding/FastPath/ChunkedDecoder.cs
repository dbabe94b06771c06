using System.Buffers;

namespace AseGateway.Forwarding.FastPath;

internal enum ChunkedResult : byte
{
    NeedMoreData,
    Done,
    Invalid,
}

/// <summary>
/// Decodes a chunked response body (RFC 9112 §7.1) as it arrives, strictly: chunk sizes are 1-15 hex digits (no
/// sign, no whitespace before them, nothing that overflows), extensions are skipped but may hold no control
/// characters, every chunk ends in exactly CRLF, lines end in CRLF only, and trailer fields follow the header rules.
/// A lenient decoder here and a strict one further on would disagree about where the response ends.
/// </summary>
internal sealed class ChunkedDecoder
{
    /// <summary>A chunk-size line with its extensions.</summary>
    public const int MaxChunkLineBytes = 4096;

    /// <summary>The trailer section, all fields together.</summary>
    public const int MaxTrailerBytes = 16 * 1024;

    private enum State : byte
    {
        Size,
        Data,
        DataEnd,
        Trailers,
        Done,
    }

    private State _state;
    private long _remaining;
    private int _trailerBytes;

    /// <summary>Trailer fields, in arrival order (empty for most responses).</summary>
    public List<KeyValuePair<string, string>> Trailers { get; } = [];

    public string? Error { get; private set; }

    /// <summary>Body bytes handed to the output so far (once any are, a failure can no longer become a clean 502).</summary>
    public long BytesWritten { get; private set; }

    public void Reset()
    {
        _state = State.Size;
        _remaining = 0;
        _trailerBytes = 0;
        BytesWritten = 0;
        Trailers.Clear();
        Error = null;
    }

    /// <summary>
    /// Decodes what it can of <paramref name="input"/>, writing chunk data to <paramref name="output"/>;
    /// <paramref name="consumed"/> is where the caller advances its reader to.
    /// </summary>
    public ChunkedResult Decode(ReadOnlySequence<byte> input, IBufferWriter<byte> output, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(input);
        try
        {
            while (true)
            {
                switch (_state)
                {
                    case State.Size:
                        if (!TryReadLine(ref reader, MaxChunkLineBytes, out var sizeLine, out var lineResult))
                        {
                            return lineResult;
                        }

                        if (!TryParseSize(sizeLine, out _remaining))
                        {
                            return Fail("an invalid chunk size line");
                        }

                        _state = _remaining == 0 ? State.Trailers : State.Data;
                        break;

                    case State.Data:
                        if (reader.End)
                        {
                            return ChunkedResult.NeedMoreData;
                        }

                        var take = (int)Math.Min(_remaining, reader.UnreadSpan.Length);
                        output.Write(reader.UnreadSpan[..take]);
                        BytesWritten += take;
                        reader.Advance(take);
                        _remaining -= take;
                        if (_remaining == 0)
                        {
                            _state = State.DataEnd;
                        }

                        break;

                    case State.DataEnd:
                        if (reader.Remaining < 2)
                        {
                            return ChunkedResult.NeedMoreData;
                        }

                        if (!reader.IsNext("\r\n"u8, advancePast: true))
                        {
                            return Fail("chunk data not followed by CRLF");
                        }

                        _state = State.Size;
                        break;

                    case State.Trailers:
                        if (!TryReadLine(ref reader, MaxTrailerBytes - _trailerBytes, out var field, out lineResult))
                        {
                            return lineResult;
                        }

                        if (field.IsEmpty)
                        {
                            _state = State.Done;
                            return ChunkedResult.Done;
                        }

                        _trailerBytes += field.Length + 2;
                        if (!ResponseHeadParser.TryParseField(field, out var name, out var value, out var error))
                        {
                            return Fail($"an invalid trailer field: {error}");
                        }

                        Trailers.Add(new KeyValuePair<string, string>(name, System.Text.Encoding.ASCII.GetString(value)));
                        break;

                    default:
                        return Fail("data after the last chunk");
                }
            }
        }
        finally
        {
            consumed = reader.Position;
        }
    }

    /// <summary>A CRLF-terminated line (without it) copied out of the sequence when it spans segments.</summary>
    private bool TryReadLine(ref SequenceReader<byte> reader, int maxBytes, out ReadOnlySpan<byte> line, out ChunkedResult result)
    {
        line = default;
        var unread = reader.UnreadSequence;
        var lf = unread.PositionOf((byte)'\n');
        if (lf is null)
        {
            var pending = unread.Length;
            result = pending > maxBytes || ContainsBareCr(unread) ? Fail("an over-long or malformed chunk line") : ChunkedResult.NeedMoreData;
            return false;
        }

        var withLf = unread.Slice(0, unread.GetPosition(1, lf.Value));
        if (withLf.Length > maxBytes + 2 || withLf.Length < 2)
        {
            result = Fail(withLf.Length < 2 ? "a bare LF in a chunk line" : "an over-long chunk line");
            return false;
        }

        var bytes = withLf.IsSingleSegment ? withLf.FirstSpan : (ReadOnlySpan<byte>)withLf.ToArray();
        if (bytes[^2] != (byte)'\r' || bytes[..^2].IndexOfAny((byte)'\r', (byte)'\n') >= 0)
        {
            result = Fail("a bare CR or LF in a chunk line");
            return false;
        }

        line = bytes[..^2];
        reader.Advance(withLf.Length);
        result = default;
        return true;
    }

    private static bool ContainsBareCr(ReadOnlySequence<byte> unread)
    {
        // A CR must be followed by LF; only the very last byte may be a CR still waiting for its LF.
        var reader = new SequenceReader<byte>(unread);
        while (reader.TryAdvanceTo((byte)'\r'))
        {
            if (!reader.End)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>chunk-size [ BWS ";" chunk-ext ]: hex digits, then nothing or extensions of visible characters.</summary>
    internal static bool TryParseSize(ReadOnlySpan<byte> line, out long size)
    {
        size = 0;
        var digits = 0;
        while (digits < line.Length && char.IsAsciiHexDigit((char)line[digits]))
        {
            size = (size << 4) | (long)HexValue(line[digits]);
            digits++;
            if (digits > 15)
            {
                return false;
            }
        }

        if (digits == 0)
        {
            return false;
        }

        var rest = line[digits..].TrimStart(" \t"u8);
        if (rest.IsEmpty)
        {
            return digits == line.Length;
        }

        // Extensions are ignored, but not ones that smuggle controls (RFC 9112 §7.1.1).
        if (rest[0] != (byte)';')
        {
            return false;
        }

        foreach (var b in rest)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private ChunkedResult Fail(string error)
    {
        Error = error;
        return ChunkedResult.Invalid;
    }
}
