using System.Buffers;

namespace AseGateway.Waf;

/// <summary>
/// The arrays the WAF reads request bodies into to inspect them. <see cref="ArrayPool{T}.Shared"/> keeps a few dozen
/// arrays of a size, and an inspection holds its array for the whole exchange: under many concurrent uploads (HTTP/2
/// multiplexes 100 a connection) most rents of the default limit's 128 KB missed it and allocated a new array, a
/// large-object allocation dropped again on return: garbage that only a full collection frees. Arrays of that size
/// (bodies of 64 to 128 KB, and the first 128 KB of longer ones) come from a pool of their own that keeps <see
/// cref="ArraysPerSize"/> (at most 16 MB, and only as many as were ever in use at once); smaller ones, which are not
/// large objects, and larger ones, from a policy with a larger limit, from the shared pool, as before.
/// </summary>
internal static class InspectionBuffers
{
    /// <summary>Azure's largest inspection limit for most rule sets and the gateway's default: the pooled size.</summary>
    private const int PooledLength = 128 * 1024;

    /// <summary>Inspections in flight at once, up to this, reuse arrays instead of allocating them.</summary>
    private const int ArraysPerSize = 128;

    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(PooledLength, ArraysPerSize);

    /// <summary>An array of at least <paramref name="length"/> bytes; give it back with <see cref="Return"/>.</summary>
    public static byte[] Rent(int length) => length is > PooledLength / 2 and <= PooledLength ? Pool.Rent(length) : ArrayPool<byte>.Shared.Rent(length);

    /// <summary>
    /// Back to the pool it came from, told by its length: the shared pool is never asked for this size here, so an
    /// array of exactly <see cref="PooledLength"/> is this pool's.
    /// </summary>
    public static void Return(byte[] array)
    {
        if (array.Length == PooledLength)
        {
            Pool.Return(array);
        }
        else
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
