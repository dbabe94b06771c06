namespace AseGateway.Hosting;

/// <summary>
/// Opt-in: run request processing on the socket I/O threads instead of handing every completion to the thread pool.
/// The runtime inlines socket completions only when <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c> is in the
/// environment (it reads the variable itself, once, and runs one event thread per core then); Kestrel's transport is
/// told to inline its pipes too under the same variable, as Kestrel's docs advise pairing them. Together they cut
/// the thread-pool handoffs of a proxied HTTP/1.1 request (about 1.1 context switches per request to about 0.5 on
/// 2 cores). Off by default: gateway code then runs on the event thread, so a long TLS handshake or a heavy WAF
/// evaluation delays every other connection that thread serves, and any blocking wait there stalls them all.
/// </summary>
internal static class InlineIoScheduling
{
    /// <summary>The runtime's own switch (System.Net.Sockets' SocketAsyncEngine reads it).</summary>
    public const string EnvironmentVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Exactly the runtime's test: the value "1" and nothing else.</summary>
    public static bool IsRequested(string? value) => value == "1";

    public static bool IsRequested() => IsRequested(Environment.GetEnvironmentVariable(EnvironmentVariable));
}
