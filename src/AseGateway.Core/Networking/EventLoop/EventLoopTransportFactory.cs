using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace AseGateway.Networking.EventLoop;

/// <summary>
/// Kestrel's transport for TCP listeners when the event loop is on: accepted connections are spread over the loops
/// of the shared <see cref="EventLoopGroup"/>. Listen sockets are made and bound as Kestrel's socket transport makes
/// them (its own helper, so dual mode and errors match). Only the listeners in <see cref="EventLoopEndpoints"/> are
/// taken; Kestrel binds the others with its socket transport.
/// </summary>
internal sealed class EventLoopTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly EventLoopGroup _loops;
    private readonly EventLoopEndpoints _endpoints;
    private readonly SocketTransportOptions _options;

    public EventLoopTransportFactory(EventLoopGroup loops, EventLoopEndpoints endpoints, IOptions<SocketTransportOptions> options)
    {
        _loops = loops;
        _endpoints = endpoints;
        _options = options.Value;
    }

    /// <summary>How many event loops serve the connections.</summary>
    public int LoopCount => _loops.Loops.Count;

    /// <summary>Listeners bound so far (tests check the gateway's listeners went through here).</summary>
    public int BoundCount { get; private set; }

    public bool CanBind(EndPoint endpoint) => _endpoints.Contains(endpoint);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        Socket socket;
        try
        {
            socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new AddressInUseException(e.Message, e);
        }

        socket.Listen(_options.Backlog);
        BoundCount++;
        return ValueTask.FromResult<IConnectionListener>(new Listener(this, socket));
    }

    private sealed class Listener(EventLoopTransportFactory factory, Socket socket) : IConnectionListener
    {
        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(cancellationToken);
                }
                catch (ObjectDisposedException)
                {
                    return null;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
                {
                    return null;
                }
                catch (SocketException)
                {
                    // The client reset the connection before it was accepted: take the next one.
                    continue;
                }

                accepted.NoDelay = factory._options.NoDelay;
                var loopSocket = new EventLoopSocket(
                    accepted,
                    factory._loops.Next(),
                    factory._loops.Pool,
                    factory._options.MaxReadBufferSize ?? 0,
                    factory._options.MaxWriteBufferSize ?? 0);
                var connection = new EventLoopConnection(loopSocket, factory._loops.Pool);
                loopSocket.Start();
                return connection;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
