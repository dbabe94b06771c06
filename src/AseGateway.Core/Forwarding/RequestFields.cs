using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Forwarding;

/// <summary>
/// A request's header fields in an array, for the stages that read every one of them on every request (the sanity
/// check, the fast path's head). Kestrel's header collection enumerates only through <c>IEnumerable</c>, whose
/// enumerator it boxes: about 100 bytes a request and a walk, unless the JIT happens to inline the enumeration and
/// keep the box on the stack (Native AOT never does). Its <c>ICollection.CopyTo</c> writes the same fields in the same
/// order without one. The array is the thread's, lent for the caller's synchronous use and cleared when given back:
/// give it back before calling the next stage, which may borrow it too (a stage that holds it across that call makes
/// every later borrower on the thread allocate an array of its own).
/// </summary>
internal readonly ref struct RequestFields : IDisposable
{
    /// <summary>Kestrel's default limit is 100 fields a request; a thread keeps no larger array than this.</summary>
    private const int LargestKept = 128;

    [ThreadStatic]
    private static KeyValuePair<string, StringValues>[]? _spare;

    private readonly KeyValuePair<string, StringValues>[] _array;
    private readonly int _count;

    private RequestFields(KeyValuePair<string, StringValues>[] array, int count)
    {
        _array = array;
        _count = count;
    }

    public ReadOnlySpan<KeyValuePair<string, StringValues>> Span => _array.AsSpan(0, _count);

    /// <summary>The fields of <paramref name="headers"/> as its enumerator would give them.</summary>
    public static RequestFields Of(IHeaderDictionary headers)
    {
        var count = headers.Count;
        // Taken out while lent, so that a nested use on the same thread gets an array of its own.
        var array = _spare;
        if (array is null || array.Length < count)
        {
            array = new KeyValuePair<string, StringValues>[Math.Max(count, 32)];
        }
        else
        {
            _spare = null;
        }

        headers.CopyTo(array, 0);
        return new RequestFields(array, count);
    }

    /// <summary>Clears the lent part (no request's strings stay reachable from an idle thread) and keeps the array.</summary>
    public void Dispose()
    {
        Array.Clear(_array, 0, _count);
        if (_array.Length <= LargestKept)
        {
            _spare = _array;
        }
    }
}
