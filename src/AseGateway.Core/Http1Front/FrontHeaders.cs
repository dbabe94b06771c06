using System.Collections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Http1Front;

/// <summary>
/// A request's or a response's header fields on the front: names and values in two arrays, in the order they came,
/// found by a walk that compares lengths, then references, then letters without case. A head has a handful of fields
/// (wrk sends one, a browser about fifteen), and for so few a walk beats hashing every name the stages ask for into a
/// <see cref="Dictionary{TKey, TValue}"/>, which <see cref="HeaderDictionary"/> does, and enumerates and copies with no
/// boxed enumerator. It behaves as <see cref="HeaderDictionary"/> does wherever an application can tell (setting no
/// value removes the field, an empty string is a value, a missing one reads as empty, read-only once the response
/// started), and as its dictionary does while being enumerated: a field may be removed, not added. Removed fields
/// leave a hole, filled when the arrays are full, so that removing the current field in a <c>foreach</c> skips none.
/// </summary>
internal sealed class FrontHeaders : IHeaderDictionary
{
    private string?[] _names = new string?[16];
    private StringValues[] _values = new StringValues[16];

    /// <summary>Slots in use, holes included.</summary>
    private int _end;
    private int _count;

    /// <summary>Changes when a field is added or all are cleared: an enumeration under way then throws, as a dictionary's.</summary>
    private int _version;

    /// <summary>
    /// <see cref="ContentLength"/> as last read, until a field changes: the stages of one request with a body ask for it
    /// several times (the WAF, the retry rule, the fast path), and each asking found and parsed the field again.
    /// </summary>
    private long? _contentLength;
    private bool _contentLengthRead;

    public bool IsReadOnly { get; set; }

    /// <summary>
    /// Every field is one the front's parser took from the head (names RFC 9110 tokens, values visible ASCII, spaces
    /// and tabs: <see cref="RequestHeadParser"/>) and none was set since; a removal keeps it so. The header sanity
    /// stage, which would refuse nothing of such a head, then skips its pass.
    /// </summary>
    public bool OnlyParsedFields { get; private set; }

    /// <summary>A name came more than once in the parsed head (its values were joined): not every field has one value.</summary>
    public bool AnyFieldRepeated { get; private set; }

    public int Count => _count;

    public StringValues this[string key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            var index = IndexOf(key);
            return index >= 0 ? _values[index] : StringValues.Empty;
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            ThrowIfReadOnly();
            // No value at all removes the field, as HeaderDictionary's setter does; an empty string is a value.
            if (value.Count == 0)
            {
                RemoveAt(IndexOf(key));
                return;
            }

            OnlyParsedFields = false;
            var index = IndexOf(key);
            if (index >= 0)
            {
                _values[index] = value;
                _contentLengthRead = false;
            }
            else
            {
                Append(key, value);
            }
        }
    }

    StringValues IDictionary<string, StringValues>.this[string key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            var index = IndexOf(key);
            return index >= 0 ? _values[index] : throw new KeyNotFoundException($"The header '{key}' is not present.");
        }
        set => this[key] = value;
    }

    public long? ContentLength
    {
        get
        {
            if (!_contentLengthRead)
            {
                _contentLength = ReadContentLength();
                _contentLengthRead = true;
            }

            return _contentLength;
        }
        set
        {
            ThrowIfReadOnly();
            if (value is { } length)
            {
                this[HeaderNames.ContentLength] = HeaderUtilities.FormatNonNegativeInt64(length);
            }
            else
            {
                RemoveAt(IndexOf(HeaderNames.ContentLength));
            }
        }
    }

    public ICollection<string> Keys
    {
        get
        {
            var keys = new string[_count];
            var at = 0;
            foreach (var (name, _) in this)
            {
                keys[at++] = name;
            }

            return keys;
        }
    }

    public ICollection<StringValues> Values
    {
        get
        {
            var values = new StringValues[_count];
            var at = 0;
            foreach (var (_, value) in this)
            {
                values[at++] = value;
            }

            return values;
        }
    }

    /// <summary>Emptied for the fields of a head the front parses (<see cref="AppendField"/>).</summary>
    public void ClearForParsedHead()
    {
        Clear();
        OnlyParsedFields = true;
        AnyFieldRepeated = false;
    }

    /// <summary>A field of a request's head, as the front parsed it: a name seen before in the head gets this value after its others.</summary>
    public void AppendField(string name, string value)
    {
        var index = IndexOf(name);
        if (index >= 0)
        {
            _values[index] = StringValues.Concat(_values[index], value);
            _contentLengthRead = false;
            AnyFieldRepeated = true;
        }
        else
        {
            Append(name, value);
        }
    }

    /// <summary>A field of a parsed head whose name the caller knows no field before it has (<see cref="AppendField"/>).</summary>
    public void AppendDistinctField(string name, string value) => Append(name, value);

    public void Add(string key, StringValues value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfReadOnly();
        if (IndexOf(key) >= 0)
        {
            throw new ArgumentException($"An item with the same key has already been added. Key: {key}", nameof(key));
        }

        OnlyParsedFields = false;
        Append(key, value);
    }

    public void Add(KeyValuePair<string, StringValues> item) => Add(item.Key, item.Value);

    public void Clear()
    {
        ThrowIfReadOnly();
        Array.Clear(_names, 0, _end);
        Array.Clear(_values, 0, _end);
        _end = 0;
        _count = 0;
        _version++;
        _contentLengthRead = false;
        OnlyParsedFields = false;
    }

    public bool ContainsKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return IndexOf(key) >= 0;
    }

    public bool Contains(KeyValuePair<string, StringValues> item) =>
        TryGetValue(item.Key, out var value) && StringValues.Equals(value, item.Value);

    public bool TryGetValue(string key, out StringValues value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var index = IndexOf(key);
        value = index >= 0 ? _values[index] : default;
        return index >= 0;
    }

    public bool Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfReadOnly();
        return RemoveAt(IndexOf(key));
    }

    public bool Remove(KeyValuePair<string, StringValues> item)
    {
        ThrowIfReadOnly();
        var index = IndexOf(item.Key);
        return index >= 0 && StringValues.Equals(_values[index], item.Value) && RemoveAt(index);
    }

    public void CopyTo(KeyValuePair<string, StringValues>[] array, int arrayIndex)
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentOutOfRangeException.ThrowIfNegative(arrayIndex);
        if (array.Length - arrayIndex < _count)
        {
            throw new ArgumentException("The array is too small for the headers from that index.", nameof(array));
        }

        var names = _names;
        for (var i = 0; i < _end; i++)
        {
            if (names[i] is { } name)
            {
                array[arrayIndex++] = new KeyValuePair<string, StringValues>(name, _values[i]);
            }
        }
    }

    public Enumerator GetEnumerator() => new(this);

    IEnumerator<KeyValuePair<string, StringValues>> IEnumerable<KeyValuePair<string, StringValues>>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        var names = _names.AsSpan(0, _end);
        for (var i = 0; i < names.Length; i++)
        {
            // Most lookups are by HeaderNames' constants, which the front's parser and the fast path's response-head
            // parser hand out for the names they know: the same reference, found without comparing a letter.
            if (names[i] is { } name && name.Length == key.Length
                && (ReferenceEquals(name, key) || (MayBeSame(name, key) && string.Equals(name, key, StringComparison.OrdinalIgnoreCase))))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The one Content-Length value as a number, as <c>HeaderDictionary</c> reads it; null when there is none or it is not one.</summary>
    private long? ReadContentLength()
    {
        var index = IndexOf(HeaderNames.ContentLength);
        if (index < 0 || _values[index] is not { Count: 1 } values || string.IsNullOrEmpty(values[0])
            || !HeaderUtilities.TryParseNonNegativeInt64(new StringSegment(values[0]).Trim(), out var length))
        {
            return null;
        }

        return length;
    }

    /// <summary>
    /// False when two names of one length surely differ by their first character: most lookups are for a field the
    /// head does not have (Content-Length, Upgrade, Expect), and a browser's four Sec-Fetch-* fields share the length
    /// of Content-Length. ASCII characters equal but for case differ only in 0x20; a non-ASCII one goes to the full
    /// comparison, whose case rules relate a few of them to ASCII letters.
    /// </summary>
    private static bool MayBeSame(string name, string key) =>
        key.Length == 0 || (name[0] | 0x20) == (key[0] | 0x20) || name[0] > 0x7F || key[0] > 0x7F;

    private void Append(string name, StringValues value)
    {
        if (_end == _names.Length)
        {
            Grow();
        }

        _names[_end] = name;
        _values[_end] = value;
        _end++;
        _count++;
        _version++;
        _contentLengthRead = false;
    }

    /// <summary>Fills the holes removals left, or when there are none, doubles the arrays.</summary>
    private void Grow()
    {
        if (_count < _end)
        {
            var kept = 0;
            for (var i = 0; i < _end; i++)
            {
                if (_names[i] is not null)
                {
                    _names[kept] = _names[i];
                    _values[kept] = _values[i];
                    kept++;
                }
            }

            Array.Clear(_names, kept, _end - kept);
            Array.Clear(_values, kept, _end - kept);
            _end = kept;
            return;
        }

        Array.Resize(ref _names, _names.Length * 2);
        Array.Resize(ref _values, _values.Length * 2);
    }

    private bool RemoveAt(int index)
    {
        if (index < 0)
        {
            return false;
        }

        _names[index] = null;
        _values[index] = default;
        _count--;
        _contentLengthRead = false;
        if (index == _end - 1)
        {
            _end--;
        }

        return true;
    }

    private void ThrowIfReadOnly()
    {
        if (IsReadOnly)
        {
            throw new InvalidOperationException("The response headers cannot be modified because the response has already started.");
        }
    }

    public struct Enumerator : IEnumerator<KeyValuePair<string, StringValues>>
    {
        private readonly FrontHeaders _headers;
        private readonly int _version;
        private int _index;

        internal Enumerator(FrontHeaders headers)
        {
            _headers = headers;
            _version = headers._version;
            _index = -1;
            Current = default;
        }

        public KeyValuePair<string, StringValues> Current { get; private set; }

        readonly object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            var headers = _headers;
            if (_version != headers._version)
            {
                throw new InvalidOperationException("The headers were changed while they were being enumerated.");
            }

            while (++_index < headers._end)
            {
                if (headers._names[_index] is { } name)
                {
                    Current = new KeyValuePair<string, StringValues>(name, headers._values[_index]);
                    return true;
                }
            }

            Current = default;
            return false;
        }

        public void Reset()
        {
            _index = -1;
            Current = default;
        }

        public readonly void Dispose()
        {
        }
    }
}
