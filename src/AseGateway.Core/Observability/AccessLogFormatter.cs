using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace AseGateway.Observability;

/// <summary>
/// Formats entries as App Service writes its HTTP logs: W3C extended log lines (the IIS field set), or JSON lines
/// with the column names of Azure Monitor's AppServiceHTTPLogs table. Runs on the writer task only, into a
/// reused buffer: UTF-8 straight from the entry's strings, no intermediate strings.
/// </summary>
internal static class AccessLogFormatter
{
    /// <summary>App Service's field list, in its order.</summary>
    public const string W3CFields = "date time s-sitename cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken";

    private static readonly SearchValues<char> PrintableAsciiWithoutSpace = SearchValues.Create("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private const int DateTimeLength = 19;

    private static readonly string Software = $"AseGateway {typeof(AccessLogFormatter).Assembly.GetName().Version?.ToString(3) ?? "1.0.0"}";

    /// <summary>The directives every W3C file starts with (W3C Working Draft WD-logfile-960323).</summary>
    public static void WriteW3CHeader(IBufferWriter<byte> output, DateTime now)
    {
        WriteAscii(output, "#Software: ");
        WriteAscii(output, Software);
        WriteAscii(output, "\n#Version: 1.0\n#Date: ");
        output.Advance(WriteDateTime(output.GetSpan(DateTimeLength), now));
        WriteAscii(output, "\n#Fields: ");
        WriteAscii(output, W3CFields);
        WriteAscii(output, "\n");
    }

    public static void WriteW3C(IBufferWriter<byte> output, in AccessLogEntry entry)
    {
        // The query without its leading '?', as IIS writes it.
        var query = entry.UriQuery is { Length: > 1 } text ? text.AsSpan(1) : default;

        // One span for the whole line, at its longest: every field and separator is then a store at an offset, not a
        // GetSpan and an Advance of its own (two interface calls each, on ~20 fields).
        var span = output.GetSpan(LongestLine(entry, query.Length));
        var at = WriteDateTime(span, entry.Time);
        span[at++] = (byte)' ';
        at += WriteField(span[at..], entry.SiteName);
        at += WriteField(span[at..], entry.Method);
        at += WriteField(span[at..], entry.UriStem);
        at += WriteField(span[at..], query);
        at += WriteNumber(span[at..], entry.ServerPort);
        at += WriteField(span[at..], default(ReadOnlySpan<char>));
        at += WriteAddress(span[at..], entry.ClientAddress);
        at += WriteField(span[at..], entry.UserAgent);
        at += WriteField(span[at..], entry.Cookie);
        at += WriteField(span[at..], entry.Referer);
        at += WriteField(span[at..], entry.Host);
        at += WriteNumber(span[at..], entry.Status);
        at += WriteNumber(span[at..], entry.SubStatus);
        at += WriteNumber(span[at..], entry.Win32Status);
        at += WriteNumber(span[at..], entry.SentBytes);
        at += WriteNumber(span[at..], entry.ReceivedBytes);
        TimeTakenMilliseconds(entry.ElapsedTicks).TryFormat(span[at..], out var written, default, CultureInfo.InvariantCulture);
        at += written;
        span[at++] = (byte)'\n';
        output.Advance(at);
    }

    /// <param name="json">Reset onto <paramref name="output"/> by the caller; flushed here.</param>
    public static void WriteJson(IBufferWriter<byte> output, Utf8JsonWriter json, in AccessLogEntry entry)
    {
        json.Reset(output);
        json.WriteStartObject();
        json.WriteString("TimeGenerated", entry.Time);
        WriteJsonString(json, "SiteName", entry.SiteName);
        json.WriteString("CsMethod", entry.Method);
        WriteJsonString(json, "CsUriStem", entry.UriStem);
        if (entry.UriQuery is { Length: > 1 } query)
        {
            json.WriteString("CsUriQuery", query.AsSpan(1));
        }
        else
        {
            json.WriteNull("CsUriQuery");
        }

        json.WriteNumber("SPort", entry.ServerPort);
        json.WriteNull("CsUsername");
        if (entry.ClientAddress is { } address)
        {
            Span<char> text = stackalloc char[45];
            json.WriteString("CIp", address.TryFormat(text, out var length) ? text[..length] : address.ToString());
        }
        else
        {
            json.WriteNull("CIp");
        }

        WriteJsonString(json, "UserAgent", entry.UserAgent);
        WriteJsonString(json, "Cookie", entry.Cookie);
        WriteJsonString(json, "Referer", entry.Referer);
        WriteJsonString(json, "CsHost", entry.Host);
        json.WriteNumber("ScStatus", entry.Status);
        json.WriteNumber("ScSubStatus", entry.SubStatus);
        json.WriteNumber("ScWin32Status", entry.Win32Status);
        json.WriteNumber("ScBytes", entry.SentBytes);
        json.WriteNumber("CsBytes", entry.ReceivedBytes);
        json.WriteNumber("TimeTaken", TimeTakenMilliseconds(entry.ElapsedTicks));
        json.WriteEndObject();
        json.Flush();
        var span = output.GetSpan(1);
        span[0] = (byte)'\n';
        output.Advance(1);
    }

    /// <summary>Whole milliseconds, rounded to the nearest, as IIS writes time-taken.</summary>
    public static long TimeTakenMilliseconds(long elapsedTicks) => (long)Math.Round(elapsedTicks * 1000.0 / Stopwatch.Frequency, MidpointRounding.AwayFromZero);

    private static void WriteJsonString(Utf8JsonWriter json, string name, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    /// <summary>The most a line can take: 4 bytes a char of its text fields (UTF-8, or "%XX"), the rest at their widest.</summary>
    private static int LongestLine(in AccessLogEntry entry, int queryLength)
    {
        var chars = (long)Length(entry.SiteName) + Length(entry.Method) + Length(entry.UriStem) + queryLength
            + Length(entry.UserAgent) + Length(entry.Cookie) + Length(entry.Referer) + Length(entry.Host);

        // Date and time (19), 9 text fields at "- " or their text and a space, an address (45), 7 numbers (20 digits
        // and a space or the line end each), separators.
        return checked((int)((chars * 4) + DateTimeLength + (9 * 2) + 46 + (7 * 21) + 8));
    }

    private static int Length(string? value) => value?.Length ?? 0;

    private static int WriteField(Span<byte> span, string? value) => WriteField(span, value.AsSpan());

    /// <summary>
    /// One W3C field and the space after it: '-' when empty, spaces as '+', control characters as %XX so that a
    /// value can never split a line or a field (log injection); other characters as UTF-8.
    /// </summary>
    private static int WriteField(Span<byte> span, ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            span[0] = (byte)'-';
            span[1] = (byte)' ';
            return 2;
        }

        var at = 0;
        while (true)
        {
            // Runs of printable ASCII are copied in one vectorised step each; only what separates them (a User-Agent's
            // spaces, mostly) is looked at one character at a time.
            var plain = value.IndexOfAnyExcept(PrintableAsciiWithoutSpace);
            if (plain < 0)
            {
                plain = value.Length;
            }

            Ascii.FromUtf16(value[..plain], span[at..], out var copied);
            at += copied;
            value = value[plain..];
            if (value.IsEmpty)
            {
                break;
            }

            var c = value[0];
            var consumed = 1;
            if (c == ' ')
            {
                span[at++] = (byte)'+';
            }
            else if (c < 0x20 || c == 0x7F)
            {
                span[at++] = (byte)'%';
                span[at++] = (byte)"0123456789ABCDEF"[c >> 4];
                span[at++] = (byte)"0123456789ABCDEF"[c & 0xF];
            }
            else
            {
                // One scalar: a surrogate pair takes two chars, a lone surrogate one (decoded as U+FFFD).
                Rune.DecodeFromUtf16(value, out var rune, out consumed);
                at += rune.EncodeToUtf8(span[at..]);
            }

            value = value[consumed..];
        }

        span[at++] = (byte)' ';
        return at;
    }

    private static int WriteAddress(Span<byte> span, IPAddress? address)
    {
        if (address is null)
        {
            return WriteField(span, default(ReadOnlySpan<char>));
        }

        address.TryFormat(span, out var written);
        span[written] = (byte)' ';
        return written + 1;
    }

    private static int WriteNumber(Span<byte> span, long value)
    {
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        span[written] = (byte)' ';
        return written + 1;
    }

    /// <summary>
    /// <c>yyyy-MM-dd HH:mm:ss</c>, digit by digit: a custom format string takes DateTime's general formatting road,
    /// which parses the pattern for every line (the writer's largest cost after the W3C fields themselves).
    /// </summary>
    private static int WriteDateTime(Span<byte> span, DateTime time)
    {
        time.Deconstruct(out int year, out int month, out int day);
        WriteDigits(span[..4], year);
        span[4] = (byte)'-';
        WriteDigits(span.Slice(5, 2), month);
        span[7] = (byte)'-';
        WriteDigits(span.Slice(8, 2), day);
        span[10] = (byte)' ';
        WriteDigits(span.Slice(11, 2), time.Hour);
        span[13] = (byte)':';
        WriteDigits(span.Slice(14, 2), time.Minute);
        span[16] = (byte)':';
        WriteDigits(span.Slice(17, 2), time.Second);
        return DateTimeLength;
    }

    /// <summary>The last <c>digits.Length</c> decimal digits of <paramref name="value"/>, zero-padded.</summary>
    private static void WriteDigits(Span<byte> digits, int value)
    {
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            digits[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    private static void WriteAscii(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(text.Length);
        var written = Encoding.ASCII.GetBytes(text, span);
        output.Advance(written);
    }
}
