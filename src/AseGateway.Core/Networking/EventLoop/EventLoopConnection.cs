using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// An accepted connection as Kestrel sees it: the <see cref="EventLoopSocket"/>'s input and a
/// <see cref="DirectSendWriter"/> over its output as its transport, the features Kestrel's own socket transport offers
/// (id, items, memory pool, lifetime, end points, the socket), and its loop.
/// <see cref="ConnectionClosed"/> fires when the receiving side ends, as it does there.
/// </summary>
internal sealed class EventLoopConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IMemoryPoolFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IConnectionSocketFeature, IEventLoopFeature
{
    private static long _lastId;

    private readonly EventLoopSocket _socket;
    private readonly CancellationTokenSource _closed = new();
    private readonly FeatureCollection _features = new(7);
    private string? _id;
    private IDictionary<object, object?>? _items;

    public EventLoopConnection(EventLoopSocket socket, MemoryPool<byte> pool)
    {
        _socket = socket;
        MemoryPool = pool;
        Transport = new ClientTransport(socket.Input, new DirectSendWriter(socket, pool));
        LocalEndPoint = socket.Socket.LocalEndPoint;
        RemoteEndPoint = socket.Socket.RemoteEndPoint;
        ConnectionClosed = _closed.Token;
        _features.Set<IConnectionIdFeature>(this);
        _features.Set<IConnectionTransportFeature>(this);
        _features.Set<IConnectionItemsFeature>(this);
        _features.Set<IMemoryPoolFeature>(this);
        _features.Set<IConnectionLifetimeFeature>(this);
        _features.Set<IConnectionEndPointFeature>(this);
        _features.Set<IConnectionSocketFeature>(this);
        _features.Set<IEventLoopFeature>(this);
        socket.ReceiveEnded.ContinueWith(
            static (_, state) => ((EventLoopConnection)state!).FireClosed(),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Kestrel's shape of id (a counter in base 32), made when first asked for.</summary>
    public override string ConnectionId
    {
        get => _id ??= FormatId(Interlocked.Increment(ref _lastId));
        set => _id = value;
    }

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public MemoryPool<byte> MemoryPool { get; }

    public System.Net.Sockets.Socket Socket => _socket.Socket;

    public EventLoop Loop => _socket.Loop;

    public override void Abort(ConnectionAbortedException abortReason) => _socket.Abort(abortReason);

    public override async ValueTask DisposeAsync()
    {
        // Kestrel's side of the pipes: with its output completed the send loop sends what is left and closes.
        await Transport.Input.CompleteAsync();
        await Transport.Output.CompleteAsync();
        await _socket.Closed;
        _closed.Dispose();
        await base.DisposeAsync();
    }

    private void FireClosed()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed first: nobody is listening any more.
        }
    }

    private sealed class ClientTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }

    private static string FormatId(long id)
    {
        const string Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
        return string.Create(13, id, static (chars, value) =>
        {
            for (var i = chars.Length - 1; i >= 0; i--)
            {
                chars[i] = Digits[(int)(value & 31)];
                value >>= 5;
            }
        });
    }
}
