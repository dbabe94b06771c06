using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Tls;

/// <summary>
/// `openssl s_client`, for what .NET's SslStream does not show: whether a handshake resumed a session. Sends one
/// HTTP/1.1 request with "Connection: close" and waits for the server to close, so that a TLS 1.3 session ticket,
/// which arrives after the handshake, is read before it saves the session.
/// </summary>
internal static class OpenSslClient
{
    /// <summary>Runs one connection; returns s_client's output ("New, TLSv1.3, Cipher is …" or "Reused, …" among it).</summary>
    public static async Task<string> ConnectAsync(Uri listener, string serverName, string protocolFlag, string? sessionOut = null, string? sessionIn = null)
    {
        var openssl = InstalledTool.Find("openssl", "the TLS session resumption tests");
        var arguments = $"s_client -connect {listener.Host}:{listener.Port} -servername {serverName} {protocolFlag} -ign_eof";
        arguments += sessionOut is null ? string.Empty : $" -sess_out {sessionOut}";
        arguments += sessionIn is null ? string.Empty : $" -sess_in {sessionIn}";
        var run = await InstalledTool.RunAsync(openssl, arguments, $"GET / HTTP/1.1\r\nHost: {serverName}\r\nConnection: close\r\n\r\n", TimeSpan.FromSeconds(20));
        return run.Output + run.Error;
    }

    /// <summary>"New" or "Reused": the session line s_client prints after the handshake.</summary>
    public static string SessionKind(string output)
    {
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith("New, ", StringComparison.Ordinal) || line.StartsWith("Reused, ", StringComparison.Ordinal))
            {
                return line[..line.IndexOf(',', StringComparison.Ordinal)];
            }
        }

        Assert.Fail($"openssl s_client printed no session line:\n{output}");
        return null!;
    }
}
