using System.Collections;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Http1Front;

/// <summary>
/// The request's features, as Kestrel's HTTP/1.1 connection offers them: one object per connection that is the
/// feature collection and most of its features, reset between requests, with the connection's own features (its
/// items, its loop) found through it. Features an application sets live until the request ends. The strings of a
/// head are kept by position and reused when the next request repeats them, as Kestrel reuses its header values.
/// </summary>
internal abstract partial class FrontConnection : IFeatureCollection,
    IHttpRequestFeature, IHttpConnectionFeature, IHttpRequestLifetimeFeature, IHttpRequestIdentifierFeature, IHttpRequestBodyDetectionFeature,
    IRequestBodyPipeFeature, Forwarding.IGatewayRequestFeatureHolder
{
    private readonly FrontHeaders _requestHeaders = new();
    private readonly string?[] _names = new string?[RequestHead.MaxFields];
    private readonly string?[] _values = new string?[RequestHead.MaxFields];
    private readonly CancellationTokenSource _aborting = new();
    private readonly FrontRequestBody _body;
    private readonly List<KeyValuePair<Type, object>> _extra = [];
    private KeyValuePair<Type, object>[] _connectionFeatures = [];
    private object? _requestFeature;
    private object? _responseFeature;
    private object? _responseBodyFeature;
    private object? _connectionFeature;
    private object? _lifetimeFeature;
    private object? _identifierFeature;
    private object? _bodyDetectionFeature;
    private object? _bodyPipeFeature;
    private int _revision;

    /// <summary>How many leading names of the previous head are known distinct: all of them when none repeated.</summary>
    private int _distinctNames;
    private long _requestNumber;
    private string? _traceIdentifier;
    private string? _cachedTarget;
    private string _cachedPath = "/";
    private string _cachedQuery = string.Empty;
    private IPAddress? _remoteAddress;
    private IPAddress? _localAddress;
    private int _remotePort;
    private int _localPort;
    private bool _aborted;

    /// <summary>1 once the transport closed (the client's FIN on the event loop): set there, read where a request starts.</summary>
    private int _connectionClosed;

    /// <summary>A stream the application put in place of the body, and the pipe <c>BodyReader</c> made over it.</summary>
    private Stream? _replacedBody;
    private PipeReader? _replacedBodyReader;

    /// <summary>The gateway's feature of this connection's requests, reused by each (they run one after the other).</summary>
    public Forwarding.GatewayRequestFeature? GatewayRequest { get; set; }

    /// <summary>How many requests the front served on this connection.</summary>
    public long RequestsServed => _requestNumber;

    // IHttpRequestFeature
    public string Protocol { get; set; } = HttpProtocol.Http11;

    public string Scheme { get; set; } = "http";

    public string Method { get; set; } = HttpMethods.Get;

    public string PathBase { get; set; } = string.Empty;

    public string Path { get; set; } = "/";

    public string QueryString { get; set; } = string.Empty;

    public string RawTarget { get; set; } = "/";

    IHeaderDictionary IHttpRequestFeature.Headers { get; set; } = null!;

    public Stream Body { get; set; } = Stream.Null;

    // IHttpConnectionFeature
    public string ConnectionId
    {
        get => _connection.ConnectionId;
        set => _connection.ConnectionId = value;
    }

    public IPAddress? RemoteIpAddress { get; set; }

    public IPAddress? LocalIpAddress { get; set; }

    public int RemotePort { get; set; }

    public int LocalPort { get; set; }

    // IHttpRequestLifetimeFeature
    public CancellationToken RequestAborted { get; set; }

    // IHttpRequestIdentifierFeature: Kestrel's shape, the connection's id and the request's number.
    public string TraceIdentifier
    {
        get => _traceIdentifier ??= $"{_connection.ConnectionId}:{_requestNumber:X8}";
        set => _traceIdentifier = value;
    }

    // IHttpRequestBodyDetectionFeature: as Kestrel, a Content-Length of 0 is no body, and a chunked one may be one. The
    // head is the request's until it ends: the next is parsed only then.
    public bool CanHaveBody => _head.ContentLength > 0 || _head.Chunked;

    // IRequestBodyPipeFeature: the body read whole (FrontRequestBody); as in Kestrel, a stream the application put
    // in place of Body is what BodyReader reads from then.
    PipeReader IRequestBodyPipeFeature.Reader
    {
        get
        {
            if (ReferenceEquals(Body, _body.Stream))
            {
                return _body;
            }

            if (!ReferenceEquals(Body, _replacedBody))
            {
                _replacedBody = Body;
                _replacedBodyReader = PipeReader.Create(Body, new StreamPipeReaderOptions(leaveOpen: true));
            }

            return _replacedBodyReader!;
        }
    }

    // IFeatureCollection
    public bool IsReadOnly => false;

    public int Revision => _revision;

    // Keys are compared by reference: a runtime type is one object per type, so for the keys typeof gives this is
    // Type's own ==, which Native AOT calls (it does not inline it) for each compare of the chains below.
    public object? this[Type key]
    {
        get
        {
            if (TryGetSlot(key, out var slot))
            {
                return slot;
            }

            foreach (var (type, feature) in _extra)
            {
                if (ReferenceEquals(type, key))
                {
                    return feature;
                }
            }

            // The connection's features (its items, its loop), as they were when the front took it: a short walk by
            // reference instead of a dictionary's hashing, for the many features a request asks for and lacks.
            foreach (var (type, feature) in _connectionFeatures)
            {
                if (ReferenceEquals(type, key))
                {
                    return feature;
                }
            }

            return null;
        }

        set
        {
            _revision++;
            if (ReferenceEquals(key, Slots.Request))
            {
                _requestFeature = value is null or IHttpRequestFeature ? value : throw NotA(key, value);
            }
            else if (ReferenceEquals(key, Slots.Response))
            {
                _responseFeature = value is null or IHttpResponseFeature ? value : throw NotA(key, value);
            }
            else if (ReferenceEquals(key, Slots.ResponseBody))
            {
                _responseBodyFeature = value is null or IHttpResponseBodyFeature ? value : throw NotA(key, value);
            }
            else if (ReferenceEquals(key, Slots.Connection))
            {
                _connectionFeature = value is null or IHttpConnectionFeature ? value : throw NotA(key, value);
            }
            else if (ReferenceEquals(key, Slots.Lifetime))
            {
                _lifetimeFeature = value is null or IHttpRequestLifetimeFeature ? value : throw NotA(key, value);
            }
            else if (ReferenceEquals(key, Slots.Identifier))
            {
                _identifierFeature = value is null or IHttpRequestIdentifierFeature ? value : throw NotA(key, value);
            }
            else if (ReferenceEquals(key, Slots.BodyDetection))
            {
                _bodyDetectionFeature = value is null or IHttpRequestBodyDetectionFeature ? value : throw NotA(key, value);
            }
            else if (ReferenceEquals(key, Slots.BodyPipe))
            {
                _bodyPipeFeature = value is null or IRequestBodyPipeFeature ? value : throw NotA(key, value);
            }
            else
            {
                SetExtra(key, value);
            }
        }
    }

    /// <summary>
    /// The fixed slots by type without a checked cast (a generic cast over interfaces is the runtime's slowest kind):
    /// a slot only ever holds its own type, which the indexer checks when it is set.
    /// </summary>
    public TFeature? Get<TFeature>()
    {
        if (!TryGetSlot(typeof(TFeature), out var feature))
        {
            return (TFeature?)this[typeof(TFeature)];
        }

        return System.Runtime.CompilerServices.Unsafe.As<object?, TFeature?>(ref feature);
    }

    /// <summary>The fixed slots, each holding the feature of its type for this request (or null).</summary>
    private bool TryGetSlot(Type key, out object? feature)
    {
        feature = ReferenceEquals(key, Slots.Request) ? _requestFeature
            : ReferenceEquals(key, Slots.Response) ? _responseFeature
            : ReferenceEquals(key, Slots.ResponseBody) ? _responseBodyFeature
            : ReferenceEquals(key, Slots.Connection) ? _connectionFeature
            : ReferenceEquals(key, Slots.Lifetime) ? _lifetimeFeature
            : ReferenceEquals(key, Slots.Identifier) ? _identifierFeature
            : ReferenceEquals(key, Slots.BodyDetection) ? _bodyDetectionFeature
            : ReferenceEquals(key, Slots.BodyPipe) ? _bodyPipeFeature
            : null;
        return feature is not null || IsSlot(key);
    }

    private static bool IsSlot(Type key) =>
        ReferenceEquals(key, Slots.Request)
        || ReferenceEquals(key, Slots.Response)
        || ReferenceEquals(key, Slots.ResponseBody)
        || ReferenceEquals(key, Slots.Connection)
        || ReferenceEquals(key, Slots.Lifetime)
        || ReferenceEquals(key, Slots.Identifier)
        || ReferenceEquals(key, Slots.BodyDetection)
        || ReferenceEquals(key, Slots.BodyPipe);

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        var features = new List<KeyValuePair<Type, object>>();
        AddIfSet(features, typeof(IHttpRequestFeature), _requestFeature);
        AddIfSet(features, typeof(IHttpResponseFeature), _responseFeature);
        AddIfSet(features, typeof(IHttpResponseBodyFeature), _responseBodyFeature);
        AddIfSet(features, typeof(IHttpConnectionFeature), _connectionFeature);
        AddIfSet(features, typeof(IHttpRequestLifetimeFeature), _lifetimeFeature);
        AddIfSet(features, typeof(IHttpRequestIdentifierFeature), _identifierFeature);
        AddIfSet(features, typeof(IHttpRequestBodyDetectionFeature), _bodyDetectionFeature);
        AddIfSet(features, typeof(IRequestBodyPipeFeature), _bodyPipeFeature);
        features.AddRange(_extra);
        foreach (var feature in _connectionFeatures)
        {
            if (this[feature.Key] == feature.Value)
            {
                features.Add(feature);
            }
        }

        return features.GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void Abort()
    {
        _aborted = true;
        CancelRequest();
        _connection.Abort(new ConnectionAbortedException("The request was aborted by the application."));
    }

    /// <summary>
    /// The slots' keys, read as constants: Native AOT compiles a typeof in code to a call that finds the type object
    /// through its method table, once per compare.
    /// </summary>
    private static class Slots
    {
        public static readonly Type Request = typeof(IHttpRequestFeature);
        public static readonly Type Response = typeof(IHttpResponseFeature);
        public static readonly Type ResponseBody = typeof(IHttpResponseBodyFeature);
        public static readonly Type Connection = typeof(IHttpConnectionFeature);
        public static readonly Type Lifetime = typeof(IHttpRequestLifetimeFeature);
        public static readonly Type Identifier = typeof(IHttpRequestIdentifierFeature);
        public static readonly Type BodyDetection = typeof(IHttpRequestBodyDetectionFeature);
        public static readonly Type BodyPipe = typeof(IRequestBodyPipeFeature);
    }

    /// <summary>A slot only ever holds its own type: <see cref="Get{TFeature}"/> returns it without a checked cast.</summary>
    private static ArgumentException NotA(Type key, object value) => new($"A {value.GetType()} is not a {key}.", nameof(value));

    private static void AddIfSet(List<KeyValuePair<Type, object>> features, Type type, object? feature)
    {
        if (feature is not null)
        {
            features.Add(new(type, feature));
        }
    }

    private void SetExtra(Type key, object? value)
    {
        for (var i = 0; i < _extra.Count; i++)
        {
            if (!ReferenceEquals(_extra[i].Key, key))
            {
                continue;
            }

            if (value is null)
            {
                _extra.RemoveAt(i);
            }
            else
            {
                _extra[i] = new(key, value);
            }

            return;
        }

        if (value is not null)
        {
            _extra.Add(new(key, value));
        }
    }

    private void InitializeFeatures()
    {
        _connectionFeatures = [.. _connection.Features];
        if (_connection.RemoteEndPoint is IPEndPoint remote)
        {
            _remoteAddress = remote.Address;
            _remotePort = remote.Port;
        }

        if (_connection.LocalEndPoint is IPEndPoint local)
        {
            _localAddress = local.Address;
            _localPort = local.Port;
        }
    }

    /// <summary>
    /// The connection closed: the request in flight is aborted (the application's RequestAborted fires), unless its
    /// response's framed end was already written. A client that reads a whole answer and closes at once (a load
    /// generator's last request, a browser's tab) would otherwise abort a request that was served, and its completion
    /// (the access log's sc-win32-status, the metrics) would call it aborted; Kestrel prevents the same cancellation
    /// once its response's last byte is written. The request after it, pipelined before the close, is aborted when it
    /// starts (<see cref="AbortIfClosed"/>).
    /// </summary>
    private void OnConnectionClosed()
    {
        // A full fence each side (here and where a request starts): either this sees the new request's response not
        // yet ended, or that start sees the close.
        Interlocked.Exchange(ref _connectionClosed, 1);
        if (!_response.EndWritten)
        {
            CancelRequest();
        }
    }

    /// <summary>At a request's start, after its response was reset: the connection already closed aborts it.</summary>
    private void AbortIfClosed()
    {
        if (Interlocked.CompareExchange(ref _connectionClosed, 0, 0) != 0)
        {
            CancelRequest();
        }
    }

    private void CancelRequest()
    {
        try
        {
            _aborting.Cancel();
        }
        catch (AggregateException)
        {
            // A callback of the application's threw; the request still ends.
        }
        catch (ObjectDisposedException)
        {
            // The front is done with the connection.
        }
    }

    /// <summary>
    /// The features of a new request, from the head just parsed (<paramref name="bytes"/> holds it), with the body
    /// <c>ReadHead</c> set <see cref="_body"/> to, read until <see cref="EndRequestBody"/>.
    /// </summary>
    private void ReadRequest(ReadOnlySpan<byte> bytes)
    {
        _revision++;
        _requestNumber++;
        _traceIdentifier = null;
        _extra.Clear();
        _requestFeature = this;
        _responseFeature = _response;
        _responseBodyFeature = _response;
        _connectionFeature = this;
        _lifetimeFeature = this;
        _identifierFeature = this;
        _bodyDetectionFeature = this;
        _bodyPipeFeature = this;
        Protocol = _head.Http10 ? HttpProtocol.Http10 : HttpProtocol.Http11;
        Scheme = "http";
        PathBase = string.Empty;
        Body = _body.Stream;
        RemoteIpAddress = _remoteAddress;
        RemotePort = _remotePort;
        LocalIpAddress = _localAddress;
        LocalPort = _localPort;
        RequestAborted = _aborting.Token;

        var head = _head;
        Method = KnownMethod(bytes[..head.MethodLength]);
        var target = bytes.Slice(head.TargetStart, head.TargetLength);
        if (_cachedTarget is null || !Ascii.Equals(target, _cachedTarget))
        {
            _cachedTarget = Encoding.ASCII.GetString(target);
            _cachedPath = head.PathLength == target.Length ? _cachedTarget : _cachedTarget[..head.PathLength];
            _cachedQuery = head.PathLength == target.Length ? string.Empty : _cachedTarget[head.PathLength..];
        }

        RawTarget = _cachedTarget;
        Path = _cachedPath;
        QueryString = _cachedQuery;

        var headers = _requestHeaders;
        headers.ClearForParsedHead();
        ((IHttpRequestFeature)this).Headers = headers;
        var distinctSoFar = _distinctNames;
        if (head.FieldsRepeated)
        {
            // The previous head's field lines, byte for byte: its strings, without comparing them again (ReuseName
            // would find each name the same, or the same known constant, and Reuse each value the same).
            for (var i = 0; i < head.FieldCount; i++)
            {
                if (i < distinctSoFar)
                {
                    headers.AppendDistinctField(_names[i]!, _values[i]!);
                }
                else
                {
                    headers.AppendField(_names[i]!, _values[i]!);
                }
            }
        }
        else
        {
            AppendParsedFields(bytes, head, headers, distinctSoFar);
        }

        _distinctNames = headers.AnyFieldRepeated ? 0 : head.FieldCount;

        _response.Reset(requestIsHead: ReferenceEquals(Method, HttpMethods.Head), closeRequested: head.CloseAfterResponse, http10: head.Http10, mayContinue: _body.ContinuePending);
        AbortIfClosed();
    }

    /// <summary>The request ended: what it left of its body is passed over, so that the input is at the next head.</summary>
    private void EndRequestBody()
    {
        _body.Skip();
        _replacedBodyReader?.Complete();
        _replacedBody = null;
        _replacedBodyReader = null;
    }

    /// <summary>
    /// The head's fields, each string the previous head's at its position when the bytes are the same. A kept-alive
    /// client repeats its names in the same order. While this head's names are the previous head's, byte for byte, and
    /// those were distinct, a name cannot repeat one before it: it is added without the walk over the fields before it
    /// that a repeat needs (with a browser's fifteen fields, about a hundred length checks and a few letter comparisons
    /// for names of one length, such as the four Sec-Fetch-* ones).
    /// </summary>
    private void AppendParsedFields(ReadOnlySpan<byte> bytes, RequestHead head, FrontHeaders headers, int distinctSoFar)
    {
        for (var i = 0; i < head.FieldCount; i++)
        {
            ref readonly var field = ref head.Fields[i];
            var name = ReuseName(ref _names[i], bytes.Slice(field.NameStart, field.NameLength), out var sameName);
            var value = Reuse(ref _values[i], bytes.Slice(field.ValueStart, field.ValueLength));
            if (sameName && i < distinctSoFar)
            {
                headers.AppendDistinctField(name, value);
            }
            else
            {
                distinctSoFar = 0;
                headers.AppendField(name, value);
            }
        }
    }

    /// <summary>The string of the previous request's field at the same position when the bytes are the same, else a new one.</summary>
    private static string Reuse(ref string? cached, ReadOnlySpan<byte> bytes)
    {
        if (cached is null || !Ascii.Equals(bytes, cached))
        {
            cached = Encoding.ASCII.GetString(bytes);
        }

        return cached;
    }

    /// <summary>
    /// <see cref="Reuse"/> for a name, and a name the stages ask for by <see cref="HeaderNames"/>' constant is that
    /// constant, spelled as Kestrel spells the names it knows whatever their case in the request: found by reference.
    /// <paramref name="sameName"/> tells that the bytes are the previous head's name at this position, byte for byte.
    /// </summary>
    private static string ReuseName(ref string? cached, ReadOnlySpan<byte> bytes, out bool sameName)
    {
        sameName = cached is not null && Ascii.Equals(bytes, cached);
        if (sameName)
        {
            return cached!;
        }

        foreach (var known in KnownRequestNames)
        {
            if (known.Length == bytes.Length && Ascii.EqualsIgnoreCase(bytes, known))
            {
                return cached = known;
            }
        }

        return cached = Encoding.ASCII.GetString(bytes);
    }

    private static readonly string[] KnownRequestNames =
    [
        HeaderNames.Host, HeaderNames.UserAgent, HeaderNames.Accept, HeaderNames.AcceptEncoding, HeaderNames.AcceptLanguage,
        HeaderNames.Connection, HeaderNames.ContentLength, HeaderNames.ContentType, HeaderNames.Cookie, HeaderNames.CacheControl,
        HeaderNames.Referer, HeaderNames.Origin, HeaderNames.Authorization, HeaderNames.Upgrade, HeaderNames.Expect,
        HeaderNames.TransferEncoding, HeaderNames.TE, HeaderNames.Pragma, HeaderNames.IfNoneMatch, HeaderNames.IfModifiedSince,
        HeaderNames.Range, Forwarding.AppServiceHeaders.ForwardedFor, Forwarding.AppServiceHeaders.ForwardedProto, Forwarding.AppServiceHeaders.ForwardedHost,
        HeaderNames.UpgradeInsecureRequests, HeaderNames.KeepAlive, HeaderNames.ProxyAuthorization, HeaderNames.TraceParent,
        HeaderNames.TraceState, HeaderNames.Baggage, HeaderNames.RequestId, HeaderNames.DNT,
    ];

    private static string KnownMethod(ReadOnlySpan<byte> method) => method switch
    {
        _ when method.SequenceEqual("GET"u8) => HttpMethods.Get,
        _ when method.SequenceEqual("HEAD"u8) => HttpMethods.Head,
        _ when method.SequenceEqual("POST"u8) => HttpMethods.Post,
        _ when method.SequenceEqual("PUT"u8) => HttpMethods.Put,
        _ when method.SequenceEqual("DELETE"u8) => HttpMethods.Delete,
        _ when method.SequenceEqual("OPTIONS"u8) => HttpMethods.Options,
        _ when method.SequenceEqual("PATCH"u8) => HttpMethods.Patch,
        _ when method.SequenceEqual("TRACE"u8) => HttpMethods.Trace,
        _ => Encoding.ASCII.GetString(method),
    };
}
