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
        WriteDateTime(output, now);
        WriteAscii(output, "\n#Fields: ");
        WriteAscii(output, W3CFields);
        WriteAscii(output, "\n");
    }

    public static void WriteW3C(IBufferWriter<byte> output, in AccessLogEntry entry)
    {
        WriteDateTime(output, entry.Time);
        Space(output);
        WriteField(output, entry.SiteName);
        WriteField(output, entry.Method);
        WriteField(output, entry.UriStem);

        // The query without its leading '?', as IIS writes it.
        WriteField(output, entry.UriQuery is { Length: > 1 } query ? query.AsSpan(1) : default);
        WriteNumber(output, entry.ServerPort);
        WriteField(output, default(ReadOnlySpan<char>));
        WriteAddress(output, entry.ClientAddress);
        WriteField(output, entry.UserAgent);
        WriteField(output, entry.Cookie);
        WriteField(output, entry.Referer);
        WriteField(output, entry.Host);
        WriteNumber(output, entry.Status);
        WriteNumber(output, entry.SubStatus);
        WriteNumber(output, entry.Win32Status);
        WriteNumber(output, entry.SentBytes);
        WriteNumber(output, entry.ReceivedBytes);
        var span = output.GetSpan(21);
        TimeTakenMilliseconds(entry.ElapsedTicks).TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        span[written] = (byte)'\n';
        output.Advance(written + 1);
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

    private static void WriteField(IBufferWriter<byte> output, string? value) => WriteField(output, value.AsSpan());

    /// <summary>
    /// One W3C field and the space after it: '-' when empty, spaces as '+', control characters as %XX so that a
    /// value can never split a line or a field (log injection); other characters as UTF-8.
    /// </summary>
    private static void WriteField(IBufferWriter<byte> output, ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            WriteAscii(output, "- ");
            return;
        }

        // At most 4 UTF-8 bytes per char (a lone surrogate becomes U+FFFD, 3 bytes), or "%XX" (3), plus the space.
        var span = output.GetSpan((value.Length * 4) + 1);

        // Most values are printable ASCII throughout: copy that run in one vectorised step, escape from there on.
        var plain = value.IndexOfAnyExcept(PrintableAsciiWithoutSpace);
        if (plain < 0)
        {
            plain = value.Length;
        }

        var at = Encoding.ASCII.GetBytes(value[..plain], span);
        foreach (var rune in value[plain..].EnumerateRunes())
        {
            var c = rune.Value;
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
                at += rune.EncodeToUtf8(span[at..]);
            }
        }

        span[at++] = (byte)' ';
        output.Advance(at);
    }

    private static void WriteAddress(IBufferWriter<byte> output, IPAddress? address)
    {
        if (address is null)
        {
            WriteAscii(output, "- ");
            return;
        }

        var span = output.GetSpan(46);
        address.TryFormat(span, out var written);
        span[written] = (byte)' ';
        output.Advance(written + 1);
    }

    private static void WriteNumber(IBufferWriter<byte> output, long value)
    {
        var span = output.GetSpan(21);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        span[written] = (byte)' ';
        output.Advance(written + 1);
    }

    /// <summary>
    /// <c>yyyy-MM-dd HH:mm:ss</c>, digit by digit: a custom format string takes DateTime's general formatting road,
    /// which parses the pattern for every line (the writer's largest cost after the W3C fields themselves).
    /// </summary>
    private static void WriteDateTime(IBufferWriter<byte> output, DateTime time)
    {
        var span = output.GetSpan(DateTimeLength);
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
        output.Advance(DateTimeLength);
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

    private static void Space(IBufferWriter<byte> output) => WriteAscii(output, " ");

    private static void WriteAscii(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(text.Length);
        var written = Encoding.ASCII.GetBytes(text, span);
        output.Advance(written);
    }
}
