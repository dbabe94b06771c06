using System.Buffers;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using AseGateway.Networking;
using AseGateway.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// Decides whether a request can take the fast path, and writes its HTTP/1.1 head exactly as YARP and HttpClient
/// would have sent it after the gateway's transforms: the same request target (YARP's path encoding, HttpClient's
/// URI), the original Host, every client header but the hop-by-hop ones YARP drops, the App Service headers of
/// <see cref="AppServiceRequestTransform"/>, the trace context HttpClient injects, and <c>Content-Length: 0</c> where
/// HttpClient adds it.
/// </summary>
internal static class RequestHeadWriter
{
    /// <summary>The headers YARP's RequestUtilities leaves out of a forwarded request or response (hop-by-hop and protocol headers).</summary>
    internal static readonly FrozenSet<string> HopByHop = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        HeaderNames.Connection, HeaderNames.TransferEncoding, HeaderNames.KeepAlive, HeaderNames.Upgrade, HeaderNames.ProxyConnection,
        HeaderNames.ProxyAuthenticate, "Proxy-Authentication-Info", HeaderNames.ProxyAuthorization, "Proxy-Features", "Proxy-Instruction",
        "Security-Scheme", "ALPN", "Close", "HTTP2-Settings", HeaderNames.UpgradeInsecureRequests, HeaderNames.TE, HeaderNames.AltSvc);

    private static readonly FrozenSet<string> FrontEndOwned = FrozenSet.Create(StringComparer.OrdinalIgnoreCase, [.. AppServiceHeaders.FrontEndOwned, AppServiceHeaders.ForwardedFor]);

    private static readonly FrozenSet<string> ForwarderOwned = FrozenSet.Create(StringComparer.OrdinalIgnoreCase, [.. AppServiceHeaders.ForwarderOwned, AppServiceHeaders.ForwardedProto]);

    /// <summary>Every name <see cref="WriteHead"/> may drop or note; any other client field is copied as it is.</summary>
    private static readonly string[] SpecialNames =
        [.. HopByHop, HeaderNames.Host, .. FrontEndOwned, .. ForwarderOwned, NextHopTraceParent.HeaderName, HeaderNames.ContentLength];

    private static readonly HeaderNameFilter Special = new(SpecialNames);

    // Path characters YARP leaves unescaped; query characters Uri leaves as they are. Anything else takes the slow,
    // exact road through RequestUtilities.MakeDestinationAddress and Uri.PathAndQuery.
    private static readonly SearchValues<char> PlainPath = SearchValues.Create("!$&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~");
    private static readonly SearchValues<char> PlainQuery = SearchValues.Create("!$&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~");

    private static PropagatorFields? _propagator;

    /// <summary>
    /// Everything the fast path cannot forward exactly as YARP would goes to YARP: other protocols than HTTP/1.x and
    /// HTTP/2, CONNECT and upgrades, Expect, a Transfer-Encoding other than a plain <c>chunked</c> or beside a
    /// Content-Length, a header sent more than once or with non-ASCII text, TE from HTTP/2 clients, and a missing Host.
    /// A body without a Content-Length (chunked, or HTTP/2 without one) goes on chunked, as HttpClient sends it for YARP.
    /// </summary>
    public static bool IsEligible(HttpContext context, GatewayRequestFeature gateway)
    {
        var request = context.Request;
        var protocol = request.Protocol;
        if (!(HttpProtocol.IsHttp11(protocol) || HttpProtocol.IsHttp2(protocol) || HttpProtocol.IsHttp10(protocol)) || HttpMethods.IsConnect(request.Method))
        {
            return false;
        }

        var headers = request.Headers;
        if (headers.Host.Count != 1 || string.IsNullOrEmpty(headers.Host[0]) || headers.ContainsKey(HeaderNames.Upgrade) || headers.ContainsKey(HeaderNames.Expect)
            || (HttpProtocol.IsHttp2(protocol) && headers.ContainsKey(HeaderNames.TE)))
        {
            return false;
        }

        if (context.Features.Find<IHttpRequestBodyDetectionFeature>() is null || !IsPlainChunkedOrAbsent(headers.TransferEncoding, request.ContentLength))
        {
            return false;
        }

        return gateway.HeadersAreSingleAscii ?? AllSingleAscii(headers);
    }

    /// <summary>
    /// No Transfer-Encoding, or Kestrel's decoded <c>chunked</c> alone, without a Content-Length beside it: another
    /// coding (<c>gzip, chunked</c>) would be lost on the way, and two framings are where smuggling starts.
    /// </summary>
    private static bool IsPlainChunkedOrAbsent(StringValues transferEncoding, long? contentLength) =>
        transferEncoding.Count == 0
        || (transferEncoding.Count == 1 && contentLength is null && string.Equals(transferEncoding[0]?.Trim(), "chunked", StringComparison.OrdinalIgnoreCase));

    private static bool AllSingleAscii(IHeaderDictionary headers)
    {
        foreach (var header in headers)
        {
            if (header.Value.Count != 1 || header.Value[0] is not { } value || !Ascii.IsValid(value))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// What the head is first written into, in one piece: a typical head (a browser's is about 1 KB with the App
    /// Service headers) fits, and is then advanced once instead of four times a header.
    /// </summary>
    private const int OnePieceHeadSize = 4096;

    /// <summary>The request line and headers, ending with the blank line; nothing is flushed.</summary>
    public static void Write(PipeWriter writer, HttpContext context, GatewayRequestFeature gateway, bool hasBody)
    {
        var activity = Activity.Current;
        var propagator = activity is null ? null : Propagator();
        if (propagator is null)
        {
            // Into one span of the writer's buffer; a longer head is written again, piece by piece (nothing is
            // advanced until the whole head fit).
            var head = new HeadBuffer(writer.GetSpan(OnePieceHeadSize));
            WriteHead(ref head, context, gateway, hasBody, activity, propagator);
            if (!head.Overflowed)
            {
                writer.Advance(head.Length);
                return;
            }
        }

        WritePieces(writer, context, gateway, hasBody, activity, propagator);
    }

    /// <summary>
    /// The head of a request, and the first part of its body when it has one, sent at once: the head from a buffer on
    /// the stack when it fits, the body from where it is, when the connection can (<see
    /// cref="UpstreamConnection.SendOrBuffer"/>): no pipe write, flush and send-loop turn for the commonest exchange,
    /// and no copy of the body. False when the caller must still flush (the head or the body part, or their unsent
    /// tail, is in the connection's writer).
    /// </summary>
    /// <remarks>
    /// Locals are not zeroed: the head buffer is 4 KB on the stack, which the runtime would otherwise clear on every
    /// request (a <c>memset</c> in the profile), and only the part the head wrote is ever read.
    /// </remarks>
    [SkipLocalsInit]
    public static bool TrySend(UpstreamConnection connection, HttpContext context, GatewayRequestFeature gateway, bool hasBody, in ReadOnlySequence<byte> bodyPart)
    {
        // With an activity the propagator writes the trace context through the writer: piece by piece (see Write).
        if (Activity.Current is null)
        {
            Span<byte> buffer = stackalloc byte[OnePieceHeadSize];
            var head = new HeadBuffer(buffer);
            WriteHead(ref head, context, gateway, hasBody, activity: null, propagator: null);
            if (!head.Overflowed)
            {
                return connection.SendOrBuffer(buffer[..head.Length], bodyPart);
            }

            // Longer than a buffer: straight to piece by piece, not once more into the writer's span of the same size.
            WritePieces(connection.Writer, context, gateway, hasBody, activity: null, propagator: null);
        }
        else
        {
            Write(connection.Writer, context, gateway, hasBody);
        }

        connection.Writer.Write(bodyPart);

        return false;
    }

    private static void WritePieces(PipeWriter writer, HttpContext context, GatewayRequestFeature gateway, bool hasBody, Activity? activity, PropagatorFields? propagator)
    {
        var pieces = new HeadBuffer(writer);
        WriteHead(ref pieces, context, gateway, hasBody, activity, propagator);
    }

    private static void WriteHead(ref HeadBuffer head, HttpContext context, GatewayRequestFeature gateway, bool hasBody, Activity? activity, PropagatorFields? propagator)
    {
        var request = context.Request;
        head.Ascii(request.Method);
        head.Ascii(" ");
        head.Ascii(RequestTarget(request));
        head.Ascii(" HTTP/1.1\r\nHost: ");
        head.Ascii(request.Headers.Host[0]!);
        head.Ascii("\r\n");

        var trusted = gateway.PeerIsTrustedForwarder;
        var sawContentLength = false;
        var special = propagator?.Filter ?? Special;
        using (var fields = RequestFields.Of(request.Headers))
        {
            foreach (var (name, values) in fields.Span)
            {
                if (name.Length == 0 || name[0] == ':')
                {
                    continue;
                }

                if (special.MayContain(name))
                {
                    if (IsDropped(name, trusted, propagator))
                    {
                        continue;
                    }

                    sawContentLength |= string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase);
                }

                head.Field(name, values[0]!);
            }
        }

        WriteAppServiceHeaders(ref head, context, gateway, trusted);
        if (propagator is null)
        {
            // Tracing off: as AppServiceRequestTransform, the gateway's hop in the client's trace, or a new trace.
            Span<char> traceparent = stackalloc char[NextHopTraceParent.Length];
            NextHopTraceParent.Format(request.Headers.TraceParent, traceparent);
            head.Ascii("traceparent: ");
            head.Ascii(traceparent);
            head.Ascii("\r\n");
        }
        else
        {
            // Only ever piece by piece (see Write): the propagator's callback gets the writer.
            propagator.Propagator.Inject(activity, head.Writer, static (carrier, name, value) =>
            {
                if (value is not null)
                {
                    WriteField((PipeWriter)carrier!, name, value);
                }
            });
        }

        // HttpClient sends "Content-Length: 0" for a method that should carry a body and has none (POST, PUT, ...), and
        // a body of unknown length chunked.
        if (!hasBody && !sawContentLength && MustHaveBody(request.Method))
        {
            head.Ascii("Content-Length: 0\r\n");
        }
        else if (hasBody && !sawContentLength)
        {
            head.Ascii("Transfer-Encoding: chunked\r\n");
        }

        head.Ascii("\r\n");
    }

    /// <summary>As YARP builds the destination URI (path encoded its way, query as Kestrel kept it) and HttpClient writes it.</summary>
    internal static string RequestTarget(HttpRequest request)
    {
        var path = request.Path.Value;
        var query = request.QueryString.Value;
        if (!string.IsNullOrEmpty(path) && !path.AsSpan().ContainsAnyExcept(PlainPath) && !path.Contains("/.", StringComparison.Ordinal)
            && (string.IsNullOrEmpty(query) || !query.AsSpan(1).ContainsAnyExcept(PlainQuery)) && !request.PathBase.HasValue)
        {
            return string.IsNullOrEmpty(query) ? path : string.Concat(path, query);
        }

        return RequestUtilities.MakeDestinationAddress("http://fastpath/", request.Path, request.QueryString).PathAndQuery;
    }

    /// <summary>
    /// A client field YARP would not forward (hop-by-hop), Host (written first), one the front end owns or, from an
    /// untrusted peer, one only a trusted forwarder may set, and the trace context the gateway writes itself.
    /// </summary>
    private static bool IsDropped(string name, bool trusted, PropagatorFields? propagator) =>
        HopByHop.Contains(name) || string.Equals(name, HeaderNames.Host, StringComparison.OrdinalIgnoreCase)
        || FrontEndOwned.Contains(name) || (!trusted && ForwarderOwned.Contains(name))
        || (propagator is not null ? propagator.Names.Contains(name) : string.Equals(name, NextHopTraceParent.HeaderName, StringComparison.OrdinalIgnoreCase));

    private static void WriteAppServiceHeaders(ref HeadBuffer head, HttpContext context, GatewayRequestFeature gateway, bool trusted)
    {
        var request = context.Request;
        var peer = gateway.PeerAddress?.ToString() ?? string.Empty;
        var incomingFor = request.Headers[AppServiceHeaders.ForwardedFor];
        if (trusted && incomingFor.Count > 0)
        {
            head.Field(AppServiceHeaders.ForwardedFor, $"{incomingFor[0]}, {peer}");
        }
        else if (peer.Length > 0)
        {
            head.Field(AppServiceHeaders.ForwardedFor, peer);
        }

        // A trusted forwarder's X-Forwarded-Proto was copied with the client's headers.
        if (!trusted || !request.Headers.ContainsKey(AppServiceHeaders.ForwardedProto))
        {
            head.Field(AppServiceHeaders.ForwardedProto, request.Scheme);
        }

        if (gateway.ClientAddress is { } client)
        {
            head.Field(AppServiceHeaders.ClientIp, client.ToString());
        }

        if (gateway.ClientPort is { } port)
        {
            // Formatted in place (room for any int): a string per request was 2% of what a forwarded request allocated.
            Span<char> digits = stackalloc char[11];
            _ = port.TryFormat(digits, out var length, default, CultureInfo.InvariantCulture);
            head.Field(AppServiceHeaders.ClientPort, digits[..length]);
        }

        if (request.IsHttps)
        {
            head.Field(AppServiceHeaders.ArrSsl, AppServiceRequestTransform.TlsDescription(context));
            if (context.Connection.ClientCertificate is { } certificate)
            {
                head.Field(AppServiceHeaders.ArrClientCert, Convert.ToBase64String(certificate.RawData));
            }
        }

        head.Field(AppServiceHeaders.OriginalUrl, AppServiceRequestTransform.OriginalUrl(context));
        if (gateway.App is { } app)
        {
            head.Field(AppServiceHeaders.SiteDeploymentId, app.Name);
        }
    }

    private static bool MustHaveBody(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsConnect(method) || HttpMethods.IsOptions(method) || HttpMethods.IsDelete(method));

    private static void WriteField(PipeWriter writer, string name, string value)
    {
        WriteAscii(writer, name);
        WriteAscii(writer, ": ");
        WriteAscii(writer, value);
        WriteAscii(writer, "\r\n");
    }

    private static void WriteAscii(PipeWriter writer, scoped ReadOnlySpan<char> text)
    {
        if (text.Length == 0)
        {
            return;
        }

        var span = writer.GetSpan(text.Length);
        if (Ascii.FromUtf16(text, span, out var written) != OperationStatus.Done)
        {
            throw NonAscii();
        }

        writer.Advance(written);
    }

    /// <summary>Eligibility admitted only ASCII header values; nothing has been flushed, the connection is closed.</summary>
    private static InvalidOperationException NonAscii() => new("A non-ASCII character in the forwarded request head.");

    private static PropagatorFields Propagator()
    {
        var current = DistributedContextPropagator.Current;
        var cached = _propagator;
        if (cached is null || !ReferenceEquals(cached.Propagator, current))
        {
            cached = new PropagatorFields(current, FrozenSet.Create(StringComparer.OrdinalIgnoreCase, [.. current.Fields]), new HeaderNameFilter([.. SpecialNames, .. current.Fields]));
            _propagator = cached;
        }

        return cached;
    }

    /// <summary>
    /// The propagator and the header names it owns (YARP removes a client's copies before injecting its own), with the
    /// filter of those names and <see cref="SpecialNames"/>.
    /// </summary>
    private sealed record PropagatorFields(DistributedContextPropagator Propagator, FrozenSet<string> Names, HeaderNameFilter Filter);

    /// <summary>
    /// Where a head is written: one span, tracking the length and whether it overflowed (then the rest is skipped), or
    /// the pipe writer itself, a piece at a time.
    /// </summary>
    private ref struct HeadBuffer
    {
        private readonly Span<byte> _span;

        public HeadBuffer(Span<byte> span) => _span = span;

        public HeadBuffer(PipeWriter writer) => Writer = writer;

        /// <summary>The writer when writing piece by piece; null into a span.</summary>
        public PipeWriter? Writer { get; }

        public int Length { get; private set; }

        public bool Overflowed { get; private set; }

        /// <summary>
        /// "name: value\r\n". Into a span, with one check for room and the four separator bytes stored directly: a
        /// head has about twenty fields, and each of its pieces cost a transcoding call of its own.
        /// </summary>
        public void Field(string name, scoped ReadOnlySpan<char> value)
        {
            if (Writer is not null || Overflowed)
            {
                Ascii(name);
                Ascii(": ");
                Ascii(value);
                Ascii("\r\n");
                return;
            }

            var room = _span[Length..];
            var valueAt = name.Length + 2;
            var end = valueAt + value.Length;
            if (room.Length < end + 2)
            {
                Overflowed = true;
                return;
            }

            if (System.Text.Ascii.FromUtf16(name, room, out _) != OperationStatus.Done
                || System.Text.Ascii.FromUtf16(value, room[valueAt..], out _) != OperationStatus.Done)
            {
                throw NonAscii();
            }

            room[name.Length] = (byte)':';
            room[name.Length + 1] = (byte)' ';
            room[end] = (byte)'\r';
            room[end + 1] = (byte)'\n';
            Length += end + 2;
        }

        public void Ascii(scoped ReadOnlySpan<char> text)
        {
            if (Writer is not null)
            {
                WriteAscii(Writer, text);
                return;
            }

            if (Overflowed)
            {
                return;
            }

            switch (System.Text.Ascii.FromUtf16(text, _span[Length..], out var written))
            {
                case OperationStatus.Done:
                    Length += written;
                    break;
                case OperationStatus.DestinationTooSmall:
                    Overflowed = true;
                    break;
                default:
                    throw NonAscii();
            }
        }
    }
}
