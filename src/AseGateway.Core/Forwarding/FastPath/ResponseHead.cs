namespace AseGateway.Forwarding.FastPath;

/// <summary>How the body of an upstream response is delimited (RFC 9112 §6.3), decided from its head.</summary>
internal enum ResponseFraming : byte
{
    /// <summary>1xx, 204, 304 or a response to HEAD: no body whatever the headers say.</summary>
    NoBody,

    ContentLength,

    Chunked,

    /// <summary>Neither Content-Length nor chunked: the body ends when the worker closes (never reused).</summary>
    UntilClose,
}

internal enum HeadParseResult : byte
{
    Incomplete,
    Complete,
    Invalid,
}

/// <summary>
/// One parsed response head; one instance per upstream connection, reset for each response, so parsing allocates
/// only the header strings it hands to Kestrel.
/// </summary>
internal sealed class ResponseHead
{
    public int StatusCode { get; set; }

    /// <summary>The worker's reason phrase when it differs from the standard one; null otherwise (Kestrel writes the standard one).</summary>
    public string? ReasonPhrase { get; set; }

    public bool IsHttp10 { get; set; }

    public bool ConnectionClose { get; set; }

    public bool HasTransferEncoding { get; set; }

    /// <summary>-1 when the head has no Content-Length.</summary>
    public long ContentLength { get; set; } = -1;

    public ResponseFraming Framing { get; set; }

    /// <summary>Why the head was refused (for the log); null when it was not.</summary>
    public string? Error { get; set; }

    /// <summary>A worker's heads repeat within a second (its Date changes once a second): up to this long, the last is kept.</summary>
    public const int MaxRepeatedHeadBytes = 1024;

    private readonly RepeatedBlock _lastHead = new(MaxRepeatedHeadBytes);

    private List<KeyValuePair<string, string>> _previous = new(16);

    /// <summary>Every field in arrival order, hop-by-hop ones included (the copy to Kestrel filters them).</summary>
    public List<KeyValuePair<string, string>> Fields { get; private set; } = new(16);

    /// <summary>
    /// Bit i set: field i (of the first 64) has a common name, not hop-by-hop, seen for the first time in this head.
    /// Into a response that has no headers yet, such a field is copied as it is, with no lookup.
    /// </summary>
    public ulong PlainFields { get; set; }

    /// <summary>An interim 1xx response (100, 102, 103): skipped, the final response follows on the same connection.</summary>
    public bool IsInterim => StatusCode is >= 100 and < 200;

    /// <summary>The connection can carry the next request once this response's body has been read to its end.</summary>
    public bool KeepAlive => !ConnectionClose && !IsHttp10 && Framing != ResponseFraming.UntilClose;

    public void Reset()
    {
        StatusCode = 0;
        ReasonPhrase = null;
        IsHttp10 = false;
        ConnectionClose = false;
        HasTransferEncoding = false;
        ContentLength = -1;
        Framing = ResponseFraming.NoBody;
        Error = null;
        PlainFields = 0;

        // The last response's fields are kept aside: a worker repeats most values (Server, Content-Type, often
        // Content-Length) from one response to the next, and an equal value reuses its string.
        (_previous, Fields) = (Fields, _previous);
        Fields.Clear();
    }

    /// <summary>
    /// True when <paramref name="block"/> (the status line and the field lines) is the last head parsed whole, byte for
    /// byte: what that parse found still stands (status, fields and their strings, Content-Length, Connection: close),
    /// and only the framing, which depends on the request too, is decided again.
    /// </summary>
    public bool TryRepeat(ReadOnlySpan<byte> block) => _lastHead.Matches(block);

    /// <summary>Keeps a head just parsed whole for <see cref="TryRepeat"/>.</summary>
    public void Keep(ReadOnlySpan<byte> block) => _lastHead.Keep(block);

    /// <summary>The field value as a string: the previous response's string for this field when its bytes are equal.</summary>
    public string ValueString(string name, ReadOnlySpan<byte> value)
    {
        var index = Fields.Count;
        if (index < _previous.Count && string.Equals(_previous[index].Key, name, StringComparison.Ordinal) && System.Text.Ascii.Equals(value, _previous[index].Value))
        {
            return _previous[index].Value;
        }

        return value.IsEmpty ? string.Empty : System.Text.Encoding.ASCII.GetString(value);
    }
}
