namespace AseGateway.Forwarding;

/// <summary>
/// A copy of the last head block a connection parsed whole, to tell with one comparison whether the next head repeats
/// it: a kept-alive peer sends the same lines again and again (a client its user agent, client hints and cookies; a
/// worker its Server, Content-Type, often Content-Length, and within a second the same Date). Identical bytes parse
/// to identical results, so a repeated block reuses the last parse instead of reading every byte again. A block longer
/// than the bound is parsed every time, so that an idle connection holds at most that much.
/// </summary>
internal sealed class RepeatedBlock(int maxBytes)
{
    private byte[] _bytes = [];
    private int _length = -1;

    /// <summary>True when <paramref name="block"/> is the kept one; otherwise the kept one is forgotten, as the parse
    /// that follows replaces what it stood for.</summary>
    public bool Matches(ReadOnlySpan<byte> block)
    {
        if (block.Length == _length && block.SequenceEqual(_bytes.AsSpan(0, _length)))
        {
            return true;
        }

        _length = -1;
        return false;
    }

    /// <summary>Forgets the kept block: what it was parsed into was not used, so a repeat of it has nothing to reuse.</summary>
    public void Forget() => _length = -1;

    /// <summary>Keeps the block of a head just parsed whole (unless it is longer than the bound).</summary>
    public void Keep(ReadOnlySpan<byte> block)
    {
        if (block.Length > maxBytes)
        {
            _length = -1;
            return;
        }

        if (_bytes.Length < block.Length)
        {
            // Grown once or twice per connection, to the size of its peer's heads.
            _bytes = new byte[Math.Min(maxBytes, Math.Max(block.Length, 2 * _bytes.Length))];
        }

        block.CopyTo(_bytes);
        _length = block.Length;
    }
}
