using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace AseGateway.Waf;

/// <summary>One WAF finding, in the fields of Azure's ApplicationGatewayFirewallLog.</summary>
public sealed record WafFinding(
    DateTimeOffset Time,
    string TransactionId,
    string ClientIp,
    int? ClientPort,
    string Hostname,
    string RequestUri,
    string RuleSetType,
    string RuleSetVersion,
    string RuleId,
    string RuleGroup,
    string Message,
    string Action,
    string MatchedData,
    string PolicyName,
    string PolicyScope,
    string PolicyScopeName);

/// <summary>
/// Writes findings as JSON lines to a rotating file and/or the console, on a background task: the request path
/// only enqueues into a bounded channel, and when the writer falls behind findings are dropped and counted
/// rather than slowing requests down.
/// </summary>
public sealed partial class WafAuditLog : IAsyncDisposable
{
    private readonly Channel<WafFinding> _queue = Channel.CreateBounded<WafFinding>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly string? _path;
    private readonly bool _console;
    private readonly long _maxBytes;
    private readonly int _maxFiles;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private long _dropped;

    public WafAuditLog(string? path, bool console, long maxBytes, int maxFiles, ILogger logger)
    {
        _path = path;
        _console = console;
        _maxBytes = maxBytes;
        _maxFiles = maxFiles;
        _logger = logger;
        _writer = Task.Run(WriteAsync);
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Raised on the writer task after each finding is written (tests and live views).</summary>
    public event Action<WafFinding>? Written;

    public void Record(WafFinding finding)
    {
        if (!_queue.Writer.TryWrite(finding))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    public static string ToJson(WafFinding f)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("timeStamp", f.Time.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("operationName", "ApplicationGatewayFirewall");
            json.WriteString("category", "ApplicationGatewayFirewallLog");
            json.WriteStartObject("properties");
            json.WriteString("clientIp", f.ClientIp);
            if (f.ClientPort is { } port)
            {
                json.WriteNumber("clientPort", port);
            }

            json.WriteString("requestUri", f.RequestUri);
            json.WriteString("ruleSetType", f.RuleSetType);
            json.WriteString("ruleSetVersion", f.RuleSetVersion);
            json.WriteString("ruleId", f.RuleId);
            json.WriteString("ruleGroup", f.RuleGroup);
            json.WriteString("message", f.Message);
            json.WriteString("action", f.Action);
            json.WriteString("site", "Global");
            json.WriteStartObject("details");
            json.WriteString("message", f.Message);
            json.WriteString("data", f.MatchedData);
            json.WriteEndObject();
            json.WriteString("hostname", f.Hostname);
            json.WriteString("transactionId", f.TransactionId);
            json.WriteString("policyId", f.PolicyName);
            json.WriteString("policyScope", f.PolicyScope);
            json.WriteString("policyScopeName", f.PolicyScopeName);
            json.WriteString("engine", "AseGateway");
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private async Task WriteAsync()
    {
        StreamWriter? file = null;
        try
        {
            await foreach (var finding in _queue.Reader.ReadAllAsync())
            {
                var line = ToJson(finding);
                if (_console)
                {
                    Console.Out.WriteLine(line);
                }

                if (_path is not null)
                {
                    file = Rotate(file);
                    await file.WriteLineAsync(line);
                    if (_queue.Reader.Count == 0)
                    {
                        await file.FlushAsync();
                    }
                }

                Written?.Invoke(finding);
            }
        }
        catch (IOException ex)
        {
            LogWriteFailed(_logger, _path ?? "console", ex.Message);
        }
        finally
        {
            if (file is not null)
            {
                await file.DisposeAsync();
            }
        }
    }

    private StreamWriter Rotate(StreamWriter? file)
    {
        if (file is not null && file.BaseStream.Length < _maxBytes)
        {
            return file;
        }

        file?.Dispose();
        if (File.Exists(_path) && new FileInfo(_path!).Length >= _maxBytes)
        {
            // waf.log → waf.log.1 → … → waf.log.{maxFiles-1}; the oldest is dropped.
            for (var i = _maxFiles - 1; i >= 1; i--)
            {
                var from = i == 1 ? _path! : $"{_path}.{i - 1}";
                if (File.Exists(from))
                {
                    File.Move(from, $"{_path}.{i}", overwrite: true);
                }
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path!))!);
        return new StreamWriter(new FileStream(_path!, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
    }

    [LoggerMessage(EventId = Logging.EventIds.WafAuditFailed, Level = LogLevel.Error, Message = "The WAF audit log '{Path}' cannot be written: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string path, string reason);
}
