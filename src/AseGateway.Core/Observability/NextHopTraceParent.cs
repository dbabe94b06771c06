using System.Diagnostics;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Observability;

/// <summary>
/// The W3C <c>traceparent</c> the worker receives when ASP.NET Core started no activity for the request. With tracing
/// off the data plane does not log through Microsoft.AspNetCore.Hosting.Diagnostics, which is what made ASP.NET Core
/// create (and parent on the client's header) an activity for every request only for its trace context to reach the
/// worker. This writes what that activity's propagation wrote: the client's trace and sampled flag with a new parent
/// id for the gateway's hop, or a new trace when the client sent no valid traceparent. Tracestate and baggage travel
/// with the client's other headers, as the activity passed them on unchanged.
/// </summary>
internal static class NextHopTraceParent
{
    public const string HeaderName = "traceparent";

    /// <summary>"00-" 32 hex "-" 16 hex "-" 2 hex.</summary>
    public const int Length = 55;

    /// <summary>Whether the request should get one: no activity carries the trace context.</summary>
    public static bool IsNeeded => Activity.Current is null;

    public static string Create(StringValues sent) =>
        string.Create(Length, sent, static (destination, sent) => Format(sent, destination));

    /// <summary>
    /// Writes the next hop's traceparent (<see cref="Length"/> characters) from the client's header: one valid value
    /// continues its trace; none, several or an invalid one start a new trace.
    /// </summary>
    public static void Format(StringValues sent, Span<char> destination)
    {
        ReadOnlySpan<char> incoming = sent.Count == 1 ? sent[0] : null;
        Span<byte> random = stackalloc byte[24];
        Random.Shared.NextBytes(random);
        var parentId = random[16..];

        // All-zero ids are invalid (W3C trace context §3.2.2.3-4).
        parentId[^1] |= (byte)(parentId.ContainsAnyExcept((byte)0) ? 0 : 1);
        "00-".CopyTo(destination);
        var valid = IsValid(incoming);
        if (valid)
        {
            incoming.Slice(3, 32).CopyTo(destination[3..]);
        }
        else
        {
            random[15] |= (byte)(random[..16].ContainsAnyExcept((byte)0) ? 0 : 1);
            WriteHex(random[..16], destination.Slice(3, 32));
        }

        destination[35] = '-';
        WriteHex(parentId, destination.Slice(36, 16));
        destination[52] = '-';
        var sampled = valid && (HexValue(incoming[54]) & 1) == 1;
        destination[53] = '0';
        destination[54] = sampled ? '1' : '0';
    }

    /// <summary>
    /// Lowercase hex, two characters a byte, from a table. <see cref="Convert.TryToHexStringLower(ReadOnlySpan{byte}, Span{char}, out int)"/>
    /// vectorises with byte shuffles, which a Native AOT build made for the baseline x64 instruction set cannot count
    /// on: its fallback took 0.55% of that build's samples over HTTP/1.1 for these 24 bytes a request.
    /// </summary>
    internal static void WriteHex(ReadOnlySpan<byte> bytes, Span<char> destination)
    {
        const string Digits = "0123456789abcdef";
        destination = destination[..(bytes.Length * 2)];
        for (var i = 0; i < bytes.Length; i++)
        {
            var value = bytes[i];
            destination[2 * i] = Digits[value >> 4];
            destination[(2 * i) + 1] = Digits[value & 0xF];
        }
    }

    /// <summary>
    /// A version-00 traceparent, or a later version's first 55 characters followed by '-' (§3.3): lowercase hex ids
    /// not all zero; version ff is invalid.
    /// </summary>
    private static bool IsValid(ReadOnlySpan<char> value)
    {
        if (value.Length < Length || (value.Length > Length && (value.StartsWith("00") || value[Length] != '-')))
        {
            return false;
        }

        return IsLowerHex(value[..2]) && !value.StartsWith("ff") && value[2] == '-'
            && IsLowerHex(value.Slice(3, 32)) && value.Slice(3, 32).ContainsAnyExcept('0') && value[35] == '-'
            && IsLowerHex(value.Slice(36, 16)) && value.Slice(36, 16).ContainsAnyExcept('0') && value[52] == '-'
            && IsLowerHex(value.Slice(53, 2));
    }

    private static bool IsLowerHex(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if (HexValue(c) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        _ => -1,
    };
}
