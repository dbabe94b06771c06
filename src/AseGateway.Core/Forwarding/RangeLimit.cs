using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Forwarding;

/// <summary>
/// Caps the byte ranges a request may ask of a worker. Many small or overlapping ranges make a server build a huge
/// multipart answer from one short request (the 2011 "Apache Killer", CVE-2011-3192). Past the cap the Range header
/// is dropped and the worker sends the whole representation with 200, as Apache (MaxRanges) and nginx (max_ranges)
/// do: a legitimate client still gets its bytes, an abusive one gains nothing.
/// </summary>
internal static class RangeLimit
{
    /// <summary>Removes Range (and If-Range, which means nothing without it) when it asks for more than <paramref name="maxRanges"/> ranges.</summary>
    public static void Apply(IHeaderDictionary headers, int maxRanges)
    {
        var range = headers.Range;
        if (range.Count == 0 || CountRanges(range) <= maxRanges)
        {
            return;
        }

        headers.Remove(HeaderNames.Range);
        headers.Remove(HeaderNames.IfRange);
    }

    /// <summary>Ranges in a Range field: one more than its commas, per line (RFC 9110 §14.2); empty list items count too, which only errs towards the cap.</summary>
    public static int CountRanges(StringValues range)
    {
        var count = 0;
        foreach (var value in range)
        {
            if (value is not null)
            {
                count += value.AsSpan().Count(',') + 1;
            }
        }

        return count;
    }
}
