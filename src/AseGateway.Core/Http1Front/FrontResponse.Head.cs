using System.Buffers.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Http1Front;

internal sealed partial class FrontResponse
{
    /// <summary>
    /// The status line, the fields, a Date unless the application gave one (RFC 9110 §6.6.1, as Kestrel adds it),
    /// <c>Connection: close</c> when the connection ends (<c>keep-alive</c> when an HTTP/1.0 one does not), and the
    /// empty line, into <see cref="_head"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A name that is not a token, a value or reason with a control or non-ASCII character (response splitting).</exception>
    private void BuildHead(int status, IHeaderDictionary headers, bool close)
    {
        _headLength = 0;
        Append("HTTP/1.1 "u8);
        if (status is < 100 or > 999)
        {
            throw new InvalidOperationException($"The status code {status} cannot be sent.");
        }

        Utf8Formatter.TryFormat(status, Reserve(3), out _);
        _headLength += 3;
        Append(" "u8);
        AppendText(ReasonFor(status, ReasonPhrase), isValue: true);
        Append("\r\n"u8);
        var hasDate = false;
        if (headers is FrontHeaders own)
        {
            // Its struct enumerator: through IHeaderDictionary the enumerator is boxed, for every response.
            foreach (var (name, values) in own)
            {
                hasDate |= AppendField(name, values);
            }
        }
        else
        {
            foreach (var (name, values) in headers)
            {
                hasDate |= AppendField(name, values);
            }
        }

        if (!hasDate)
        {
            Append(DateField.Current);
        }

        if (!headers.ContainsKey(HeaderNames.Connection))
        {
            if (close)
            {
                Append("Connection: close\r\n"u8);
            }
            else if (_http10)
            {
                // An HTTP/1.0 connection stays open only when the answer says so (RFC 9112 Appendix C.2.2).
                Append("Connection: keep-alive\r\n"u8);
            }
        }

        Append("\r\n"u8);
    }

    /// <summary>A line for each of the field's values; true when it is the Date field.</summary>
    private bool AppendField(string name, StringValues values)
    {
        foreach (var value in values)
        {
            AppendText(name, isValue: false);
            Append(": "u8);
            AppendText(value ?? string.Empty, isValue: true);
            Append("\r\n"u8);
        }

        return string.Equals(name, HeaderNames.Date, StringComparison.OrdinalIgnoreCase);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        _headLength += bytes.Length;
    }

    private void AppendText(string text, bool isValue)
    {
        // Checked whole, then narrowed: a value is visible ASCII, spaces and tabs; a name is a token.
        var bad = isValue ? text.AsSpan().IndexOfAnyExcept(ValueChars) : text.Length == 0 ? 0 : text.AsSpan().IndexOfAnyExcept(TokenChars);
        if (bad >= 0)
        {
            ThrowInvalid(text, bad, isValue);
        }

        System.Text.Ascii.FromUtf16(text, Reserve(text.Length), out _);
        _headLength += text.Length;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowInvalid(string text, int at, bool isValue) =>
        throw new InvalidOperationException(text.Length == 0
            ? "A response header has an empty name."
            : $"Invalid character 0x{(int)text[at]:X4} in a response {(isValue ? "header value" : "header name")}.");

    private Span<byte> Reserve(int length)
    {
        if (_head.Length - _headLength < length)
        {
            var larger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(_headLength + length, Math.Max(MinimumScratch, _head.Length * 2)));
            _head.AsSpan(0, _headLength).CopyTo(larger);
            Return(ref _head);
            _head = larger;
        }

        return _head.AsSpan(_headLength, length);
    }

    private static readonly System.Buffers.SearchValues<char> ValueChars = System.Buffers.SearchValues.Create(
        "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    // RFC 9110 tchar.
    private static readonly System.Buffers.SearchValues<char> TokenChars = System.Buffers.SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>The <c>Date</c> field of the current second, made once a second.</summary>
    private static class DateField
    {
        private static Entry _entry = new(-1, []);

        public static ReadOnlySpan<byte> Current
        {
            get
            {
                var now = DateTimeOffset.UtcNow;
                var second = now.ToUnixTimeSeconds();
                var entry = Volatile.Read(ref _entry);
                if (entry.Second != second)
                {
                    entry = new Entry(second, System.Text.Encoding.ASCII.GetBytes($"Date: {now.ToString("r", System.Globalization.CultureInfo.InvariantCulture)}\r\n"));
                    Volatile.Write(ref _entry, entry);
                }

                return entry.Bytes;
            }
        }

        private sealed record Entry(long Second, byte[] Bytes);
    }
}
