namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// A conservative test for "might this header name be one of a few": a bit per (first letter, length) of the names
/// given, without case. False means the name is surely none of them; true means it may be, and the caller asks its
/// exact set. A browser's request has about fifteen fields and each was looked up in three sets of hop-by-hop and
/// front-end names (hashing or comparing letters at each, 1.3% of the gateway's CPU with those fields over HTTP/1.1);
/// none of its names shares a first letter and a length with those, so each is let through after one bit test.
/// </summary>
internal sealed class HeaderNameFilter
{
    /// <summary>Names this long or longer are always "may be": the set is asked.</summary>
    private const int MaxLength = 64;

    /// <summary>Per folded first character (32 slots), a bit per length below <see cref="MaxLength"/>.</summary>
    private readonly ulong[] _lengthsByFirst = new ulong[32];

    public HeaderNameFilter(IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            if (name.Length is > 0 and < MaxLength)
            {
                _lengthsByFirst[Slot(name[0])] |= 1UL << name.Length;
            }
        }
    }

    /// <summary>False when <paramref name="name"/> equals none of the names, ignoring case; true when it may.</summary>
    public bool MayContain(string name) =>
        name.Length == 0 || name.Length >= MaxLength || name[0] > 0x7F || (_lengthsByFirst[Slot(name[0])] & (1UL << name.Length)) != 0;

    /// <summary>
    /// ASCII letters of either case share a slot (their codes differ only in 0x20); other characters may share one
    /// with something else, which only makes the answer "may be" more often. A non-ASCII first character is always
    /// "may be" (<see cref="MayContain"/>): ordinal case rules relate a few of them to ASCII letters.
    /// </summary>
    private static int Slot(char first) => (first | 0x20) & 0x1F;
}
