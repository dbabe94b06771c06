using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using AseGateway.Waf;

namespace AseGateway.Tests.Waf.Crs;

/// <summary>The outcome of one go-ftw test.</summary>
internal sealed record FtwResult(FtwTest Test, bool Passed, bool Overridden, string Detail);

/// <summary>
/// Replays go-ftw tests against a running gateway the way go-ftw does: each stage's request is written byte for byte
/// on a raw loopback socket (so malformed requests reach the server as written), the response status is read, and the
/// rule ids the WAF logged for that request are compared with expect_ids / no_expect_ids / log regexes. A marker
/// request after each stage (logged by a custom rule) tells when every finding of the stage has been written, like
/// go-ftw's log markers.
/// </summary>
internal sealed class CrsRegressionHarness
{
    public const string MarkerRule = "ftwMarker";
    public const string MarkerHeader = "X-Ftw-Marker";
    private const string MarkerPath = "/ftw-marker-";

    // go-ftw's read timeout: tests that expect a connection error (a body that never comes) rely on it.
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    // The marker only tells when the findings are written; generous, as on a shared, starved machine one request can
    // wait seconds for a core. A real hang still fails.
    private static readonly TimeSpan MarkerTimeout = TimeSpan.FromSeconds(30);
    private readonly IPEndPoint _endpoint;
    private readonly ConcurrentQueue<WafFinding> _findings = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _markers = new();
    private int _sequence;

    public CrsRegressionHarness(IPEndPoint endpoint, WafAuditLog audit)
    {
        _endpoint = endpoint;
        audit.Written += OnWritten;
    }

    private void OnWritten(WafFinding finding)
    {
        if (!finding.RequestUri.StartsWith(MarkerPath, StringComparison.Ordinal))
        {
            _findings.Enqueue(finding);
        }
        else if (finding.RuleId == MarkerRule && _markers.TryRemove(finding.RequestUri, out var done))
        {
            done.TrySetResult();
        }
    }

    /// <summary>The first requests JIT-compile every rule's regex: one request with a generous budget before timing starts.</summary>
    public async Task WarmUpAsync()
    {
        var status = await ExchangeAsync(Encoding.ASCII.GetBytes("GET /?q=warm-up HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ftw-harness\r\nAccept: */*\r\nConnection: close\r\n\r\n"), TimeSpan.FromMinutes(2));
        if (status == 0)
        {
            throw new InvalidOperationException("the gateway did not answer the warm-up request");
        }
    }

    public async Task<FtwResult> RunAsync(FtwTest test, IReadOnlyList<FtwOverride> overrides)
    {
        FtwOverride? applied = null;
        foreach (var candidate in overrides)
        {
            if (candidate.RuleId == test.RuleId && candidate.TestIds.Contains(test.TestId))
            {
                applied = candidate;
            }
        }

        if (applied is { Output: null })
        {
            return new FtwResult(test, false, true, $"skipped: {applied.Reason}");
        }

        foreach (var stage in test.Stages)
        {
            var expected = applied?.Output ?? stage.Output;
            var (status, logged, log) = await SendAsync(stage);
            var failure = Check(expected, status, logged, log);
            if (failure is not null)
            {
                return new FtwResult(test, false, applied is not null, $"{failure} [status {status}; log: {log.Replace('\n', ' ')}]");
            }
        }

        return new FtwResult(test, true, applied is not null, applied?.Reason ?? string.Empty);
    }

    private static string? Check(FtwExpectation expected, int status, HashSet<int> logged, string log)
    {
        if (expected.ExpectError == true && status != 0)
        {
            return $"expected a connection error, got status {status}";
        }

        if (expected.Status.Count > 0 && !expected.Status.Contains(status))
        {
            return $"status {status}, expected {string.Join('|', expected.Status)}";
        }

        foreach (var id in expected.ExpectIds)
        {
            if (!logged.Contains(id))
            {
                return $"rule {id} not logged (logged: {string.Join(',', logged.Order())})";
            }
        }

        foreach (var id in expected.NoExpectIds)
        {
            if (logged.Contains(id))
            {
                return $"rule {id} logged but not expected";
            }
        }

        if (expected.MatchRegex is { } match && !Regex.IsMatch(log, match))
        {
            return $"log does not match /{match}/";
        }

        if (expected.NoMatchRegex is { } noMatch && Regex.IsMatch(log, noMatch))
        {
            return $"log matches /{noMatch}/";
        }

        return null;
    }

    /// <returns>The response status (0 when the connection failed or closed without an answer), the rule ids logged, and the log as text.</returns>
    private async Task<(int Status, HashSet<int> Logged, string Log)> SendAsync(FtwStage stage)
    {
        _findings.Clear();
        var status = await ExchangeAsync(stage.EncodedRequest ?? Build(stage));
        var marker = $"{MarkerPath}{Interlocked.Increment(ref _sequence)}";
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _markers[marker] = seen;
        var markerStatus = await ExchangeAsync(Encoding.ASCII.GetBytes($"GET {marker} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ftw-harness\r\nAccept: */*\r\n{MarkerHeader}: ftw\r\nConnection: close\r\n\r\n"), MarkerTimeout);
        try
        {
            await seen.Task.WaitAsync(MarkerTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the marker {marker} (status {markerStatus}) was not logged within {MarkerTimeout}: is the WAF policy with rule {MarkerRule} on the app?");
        }

        var logged = new HashSet<int>();
        var log = new StringBuilder();
        while (_findings.TryDequeue(out var finding))
        {
            if (int.TryParse(finding.RuleId, out var id))
            {
                logged.Add(id);
            }

            log.Append($"[id \"{finding.RuleId}\"] [msg \"{LogEscape(finding.Message)}\"] [data \"{LogEscape(finding.MatchedData)}\"]\n");
        }

        return (status, logged, log.ToString());
    }

    /// <summary>Control characters as ModSecurity's error log writes them (\x0a ...), so one finding stays one log line for the log regexes.</summary>
    private static string LogEscape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c < 0x20 || c == 0x7F)
            {
                escaped.Append($"\\x{(int)c:x2}");
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    /// <summary>The request go-ftw would send: request line, headers as listed; when autocompleting, a form Content-Type and Content-Length for a body, and Connection: close.</summary>
    private static byte[] Build(FtwStage stage)
    {
        var body = stage.Data is null ? [] : Encoding.UTF8.GetBytes(stage.Data);
        var text = new StringBuilder($"{stage.Method} {stage.Uri} {stage.Version}\r\n");
        var hasLength = false;
        var hasConnection = false;
        var hasType = false;
        foreach (var (name, value) in stage.Headers)
        {
            hasType |= name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase);
            hasLength |= name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase);
            hasConnection |= name.Equals("Connection", StringComparison.OrdinalIgnoreCase);
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (stage.AutocompleteHeaders)
        {
            if (!hasType && body.Length > 0)
            {
                text.Append("Content-Type: application/x-www-form-urlencoded\r\n");
            }

            if (!hasLength && body.Length > 0)
            {
                text.Append("Content-Length: ").Append(body.Length).Append("\r\n");
            }

            if (!hasConnection)
            {
                text.Append("Connection: close\r\n");
            }
        }

        text.Append("\r\n");
        // Go strings are UTF-8: go-ftw writes the request line and headers as UTF-8 bytes, like the body.
        return [.. Encoding.UTF8.GetBytes(text.ToString()), .. body];
    }

    /// <summary>Writes the bytes, reads up to the end of the response headers and returns the status (0 if none came).</summary>
    private async Task<int> ExchangeAsync(byte[] request, TimeSpan? limit = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(limit ?? ReadTimeout);
        try
        {
            await socket.ConnectAsync(_endpoint, timeout.Token);
            await socket.SendAsync(request, SocketFlags.None, timeout.Token);
            var buffer = new byte[8192];
            var received = 0;
            while (received < buffer.Length)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                received += read;
                if (buffer.AsSpan(0, received).IndexOf("\r\n\r\n"u8) >= 0)
                {
                    break;
                }
            }

            var head = Encoding.Latin1.GetString(buffer, 0, received);
            return head.StartsWith("HTTP/", StringComparison.Ordinal) && head.Length >= 12 && int.TryParse(head.AsSpan(9, 3), out var status) ? status : 0;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return 0;
        }
    }

    /// <summary>Per rule file (test folder) and in total: passed, failed, overridden.</summary>
    public static string Report(IReadOnlyList<FtwResult> results, out int passed)
    {
        var text = new StringBuilder();
        passed = 0;
        foreach (var group in results.GroupBy(r => Path.GetDirectoryName(r.Test.File) ?? string.Empty).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var ok = group.Count(r => r.Passed);
            passed += ok;
            text.AppendLine($"{group.Key,-45} {ok,5} / {group.Count(),5} passed, {group.Count(r => !r.Passed && !r.Overridden),4} failed, {group.Count(r => r.Overridden),3} overridden");
        }

        text.AppendLine($"{"TOTAL",-45} {passed,5} / {results.Count,5} passed, {results.Count(r => !r.Passed && !r.Overridden),4} failed, {results.Count(r => r.Overridden),3} overridden");
        return text.ToString();
    }
}
