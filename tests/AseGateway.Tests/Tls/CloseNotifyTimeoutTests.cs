using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging.Abstractions;

namespace AseGateway.Tests.Tls;

/// <summary>
/// The close_notify the gateway sends when it ends a TLS connection (<see cref="TlsSessionMiddleware"/>) must not hold
/// the connection open for a peer that reads nothing: past its timeout the connection ends without the alert. A real
/// TLS session on loopback sockets, whose server side, once the handshake is done, writes into a stream that takes
/// nothing: what a full socket buffer towards a client that stopped reading looks like to SslStream.
/// </summary>
public sealed class CloseNotifyTimeoutTests
{
    [Fact]
    public async Task CloseNotify_ToAPeerThatReadsNothing_GivesUpAndEndsTheConnection()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var accepted = await listener.AcceptTcpClientAsync();

        var transport = new StalledWritesStream(accepted.GetStream());
        await using var server = new SslStream(transport);
        await using var peer = new SslStream(client.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        using var certificate = X509CertificateLoader.LoadPkcs12FromFile(RepoPaths.Combine("certs", "dev", "localhost.pfx"), "dev-password");
        await Task.WhenAll(
            server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }),
            peer.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }));

        var served = false;
        var middleware = new TlsSessionMiddleware(_ => { served = true; transport.Stall(); return Task.CompletedTask; }, NullLogger.Instance);
        var connection = new DefaultConnectionContext("close-notify-timeout");
        connection.Features.Set<ISslStreamFeature>(new SslStreamFeature(server));

        // Without the timeout this waits for a write that never completes; the bound only keeps a regression from
        // hanging the test run.
        await middleware.OnConnectionAsync(connection).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(served);
        Assert.True(transport.StalledWriteStarted, "the alert was never written");
        Assert.False(transport.StalledWriteEnded, "the middleware returned only once the alert's write ended, not at its timeout");

        // The transport closes: the alert's write, still waiting, fails. The middleware observed it, so the failure is
        // not reported as an unobserved task exception.
        var unobserved = 0;
        void Count(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            if (e.Exception.InnerExceptions.Any(x => x is IOException { Message: StalledWritesStream.ClosedMessage }))
            {
                Interlocked.Increment(ref unobserved);
            }
        }

        TaskScheduler.UnobservedTaskException += Count;
        try
        {
            transport.Close();
            await transport.StalledWriteEndedTask.WaitAsync(TimeSpan.FromSeconds(10));
            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(50);
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= Count;
        }

        Assert.Equal(0, unobserved);
    }

    private sealed class SslStreamFeature(SslStream stream) : ISslStreamFeature
    {
        public SslStream SslStream { get; } = stream;
    }

    /// <summary>Passes everything through until <see cref="Stall"/>; then a write waits until the stream is closed, and fails.</summary>
    private sealed class StalledWritesStream(Stream inner) : Stream
    {
        public const string ClosedMessage = "The test's transport closed under a stalled write.";

        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _writeEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _stalled;

        public bool StalledWriteStarted { get; private set; }

        public bool StalledWriteEnded => _writeEnded.Task.IsCompleted;

        public Task StalledWriteEndedTask => _writeEnded.Task;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Stall() => _stalled = true;

        public override void Close()
        {
            _closed.TrySetResult();
            base.Close();
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_stalled)
            {
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }

            StalledWriteStarted = true;
            try
            {
                await _closed.Task.WaitAsync(cancellationToken);
                throw new IOException(ClosedMessage);
            }
            finally
            {
                _writeEnded.TrySetResult();
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
