using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using AseGateway.Forwarding.FastPath;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace AseGateway.ForwardingFloor;

/// <summary>What the floor does with the heads of one connection's requests and answers.</summary>
internal interface IHeadModel
{
    /// <summary>Whether the request last prepared is a HEAD (its answer has no body).</summary>
    bool RequestIsHead { get; }

    /// <summary>The head to send to the worker, written into <paramref name="destination"/>; -1 for a request with a body.</summary>
    /// <param name="head">The request line and header lines, each ending in CRLF, without the empty line.</param>
    ValueTask<int> PrepareRequestAsync(ReadOnlyMemory<byte> head, Memory<byte> destination);

    /// <summary>Writes the answer's head to the client.</summary>
    void WriteAnswerHead(in ReadOnlySequence<byte> received, ResponseHead parsed, PipeWriter output);
}

/// <summary>
/// The floor proper: the request head rewritten line by line in place, the answer's head copied as received. Nothing is
/// made a string.
/// </summary>
internal sealed class ByteHeads(byte[] added) : IHeadModel
{
    public bool RequestIsHead { get; private set; }

    public ValueTask<int> PrepareRequestAsync(ReadOnlyMemory<byte> head, Memory<byte> destination)
    {
        var span = head.Span;
        var target = destination.Span;
        RequestIsHead = span.StartsWith("HEAD "u8);
        var lineEnd = span.IndexOf("\r\n"u8);
        span[..(lineEnd + 2)].CopyTo(target);
        var written = lineEnd + 2;
        for (var rest = span[(lineEnd + 2)..]; !rest.IsEmpty;)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var line = rest[..(lineEnd + 2)];
            rest = rest[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            var name = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? [] : line[(colon + 1)..].Trim(" \t\r\n"u8);
            switch (ForwardingRules.Classify(name, value))
            {
                case FieldAction.RefuseRequest:
                    return ValueTask.FromResult(-1);
                case FieldAction.Drop:
                    continue;
            }

            line.CopyTo(target[written..]);
            written += line.Length;
        }

        added.CopyTo(target[written..]);
        return ValueTask.FromResult(written + added.Length);
    }

    public void WriteAnswerHead(in ReadOnlySequence<byte> received, ResponseHead parsed, PipeWriter output)
    {
        foreach (var segment in received)
        {
            output.Write(segment.Span);
        }
    }
}

/// <summary>
/// What a lean HTTP/1.1 front would cost that keeps the gateway's stages as they are, ASP.NET Core middleware over an
/// HttpContext: per connection one DefaultHttpContext over request and response features of its own; per request the
/// head read into the request feature and its header dictionary (strings), a chain of seven middleware that each read
/// a header and the context's items, the head to the worker written from the dictionary, the answer's fields put into
/// the response's dictionary and its head written from there.
/// </summary>
internal sealed class HttpContextHeads : IHeadModel
{
    private const int Stages = 7;

    private readonly byte[] _added;
    private readonly HttpRequestFeature _request = new() { Headers = new HeaderDictionary() };
    private readonly HttpResponseFeature _response = new() { Headers = new HeaderDictionary() };
    private readonly DefaultHttpContext _context;
    private readonly RequestDelegate _pipeline;

    public HttpContextHeads(byte[] added)
    {
        _added = added;
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(_request);
        features.Set<IHttpResponseFeature>(_response);
        _context = new DefaultHttpContext(features);
        RequestDelegate pipeline = static context =>
        {
            _ = context.Request.Headers.Host;
            return Task.CompletedTask;
        };
        for (var i = 1; i < Stages; i++)
        {
            var next = pipeline;
            pipeline = context =>
            {
                _ = context.Request.Headers.Host;
                context.Items.Remove(Stages);
                return next(context);
            };
        }

        _pipeline = pipeline;
    }

    public bool RequestIsHead { get; private set; }

    public async ValueTask<int> PrepareRequestAsync(ReadOnlyMemory<byte> head, Memory<byte> destination)
    {
        Fill(head.Span);
        await _pipeline(_context);
        RequestIsHead = HttpMethods.IsHead(_request.Method);
        return Write(destination.Span);
    }

    private void Fill(ReadOnlySpan<byte> head)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        var line = head[..lineEnd];
        var methodEnd = line.IndexOf((byte)' ');
        var targetEnd = line.LastIndexOf((byte)' ');
        var method = line[..methodEnd];
        _request.Method = method.SequenceEqual("GET"u8) ? HttpMethods.Get : method.SequenceEqual("HEAD"u8) ? HttpMethods.Head : Encoding.ASCII.GetString(method);
        _request.Path = Encoding.ASCII.GetString(line[(methodEnd + 1)..targetEnd]);
        _request.Protocol = HttpProtocol.Http11;
        var headers = _request.Headers;
        headers.Clear();
        for (var rest = head[(lineEnd + 2)..]; !rest.IsEmpty;)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var field = rest[..lineEnd];
            rest = rest[(lineEnd + 2)..];
            var colon = field.IndexOf((byte)':');
            var name = field[..colon];
            headers.Append(Ascii.EqualsIgnoreCase(name, "host"u8) ? HeaderNames.Host : Encoding.ASCII.GetString(name), Encoding.ASCII.GetString(field[(colon + 1)..].Trim(" \t"u8)));
        }
    }

    private int Write(Span<byte> destination)
    {
        var written = Encoding.ASCII.GetBytes(_request.Method, destination);
        destination[written++] = (byte)' ';
        written += Encoding.ASCII.GetBytes(_request.Path, destination[written..]);
        " HTTP/1.1\r\n"u8.CopyTo(destination[written..]);
        written += 11;
        foreach (var (name, values) in _request.Headers)
        {
            foreach (var value in values)
            {
                switch (ForwardingRules.Classify(name, value ?? string.Empty))
                {
                    case FieldAction.RefuseRequest:
                        return -1;
                    case FieldAction.Drop:
                        continue;
                }

                written += WriteField(name, value, destination[written..]);
            }
        }

        _added.CopyTo(destination[written..]);
        return written + _added.Length;
    }

    public void WriteAnswerHead(in ReadOnlySequence<byte> received, ResponseHead parsed, PipeWriter output)
    {
        _response.StatusCode = parsed.StatusCode;
        _response.ReasonPhrase = parsed.ReasonPhrase;
        var headers = _response.Headers;
        headers.Clear();
        foreach (var (name, value) in parsed.Fields)
        {
            headers.Append(name, value);
        }

        var span = output.GetSpan((int)received.Length + 64);
        var written = Encoding.ASCII.GetBytes("HTTP/1.1 ", span);
        _response.StatusCode.TryFormat(span[written..], out var digits);
        written += digits;
        span[written++] = (byte)' ';
        written += Encoding.ASCII.GetBytes(_response.ReasonPhrase ?? "OK", span[written..]);
        span[written++] = (byte)'\r';
        span[written++] = (byte)'\n';
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                written += WriteField(name, value, span[written..]);
            }
        }

        span[written++] = (byte)'\r';
        span[written++] = (byte)'\n';
        output.Advance(written);
    }

    private static int WriteField(string name, string? value, Span<byte> destination)
    {
        var written = Encoding.ASCII.GetBytes(name, destination);
        destination[written++] = (byte)':';
        destination[written++] = (byte)' ';
        written += Encoding.ASCII.GetBytes(value ?? string.Empty, destination[written..]);
        destination[written++] = (byte)'\r';
        destination[written++] = (byte)'\n';
        return written;
    }
}

internal enum FieldAction
{
    Forward,
    Drop,
    RefuseRequest,
}

/// <summary>The floor's whole header policy, as the compare's nginx forwards: hop-by-hop and forwarding headers replaced; a body refused.</summary>
internal static class ForwardingRules
{
    private static readonly string[] Dropped = ["connection", "keep-alive", "x-forwarded-for", "x-forwarded-proto"];

    /// <summary>A field as received.</summary>
    public static FieldAction Classify(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (Ascii.EqualsIgnoreCase(name, "content-length") ? !value.SequenceEqual("0"u8) : Ascii.EqualsIgnoreCase(name, "transfer-encoding"))
        {
            return FieldAction.RefuseRequest;
        }

        foreach (var dropped in Dropped)
        {
            if (Ascii.EqualsIgnoreCase(name, dropped))
            {
                return FieldAction.Drop;
            }
        }

        return FieldAction.Forward;
    }

    /// <summary>A field as a header dictionary holds it.</summary>
    public static FieldAction Classify(string name, string value)
    {
        if (Ascii.EqualsIgnoreCase(name, "content-length") ? value != "0" : Ascii.EqualsIgnoreCase(name, "transfer-encoding"))
        {
            return FieldAction.RefuseRequest;
        }

        return Array.Exists(Dropped, dropped => Ascii.EqualsIgnoreCase(name, dropped)) ? FieldAction.Drop : FieldAction.Forward;
    }
}
