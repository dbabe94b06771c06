using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace AseGateway.Tests.Infrastructure;

/// <summary>
/// Keeps every log line of a gateway run at every level, exceptions included, so that a test can search all of it
/// (e.g. for secrets). <see cref="AddTo"/> also raises the framework's categories (Microsoft, Yarp) to Trace, as an
/// operator turning up the logging would: only what the gateway itself silences by category stays out.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public void AddTo(ILoggingBuilder logging)
    {
        logging.AddProvider(this);
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddFilter("Microsoft", LogLevel.Trace);
        logging.AddFilter("Yarp", LogLevel.Trace);
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture._lines.Enqueue($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception)}");
    }
}
