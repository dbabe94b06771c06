using System.Collections.Concurrent;
using System.Net;

namespace AseGateway.Waf;

/// <summary>
/// Sliding-window request counters for rate-limit rules, per (policy, rule, client) — or one shared counter when a
/// rule groups by nothing. The window slides by weighting the previous fixed window by how much of it still
/// overlaps (the approach of nginx/Envoy/Cloudflare local limiters): two numbers per key, no per-request history.
/// Memory is bounded: at most <see cref="MaxKeys"/> keys; idle keys are dropped, and beyond the cap new clients
/// share one overflow counter rather than growing the table.
/// </summary>
public sealed class RateLimiter
{
    public const int MaxKeys = 100_000;

    private readonly ConcurrentDictionary<(string Rule, IPAddress? Client), Window> _windows = new();
    private readonly TimeProvider _time;
    private long _lastSweep;

    public RateLimiter(TimeProvider time) => _time = time;

    public int Count => _windows.Count;

    /// <returns>True when this request is over the threshold (the rule's action applies).</returns>
    public bool Exceeds(string rule, IPAddress? client, TimeSpan window, int threshold)
    {
        var now = _time.GetUtcNow().UtcTicks;
        var key = (rule, client);
        if (!_windows.TryGetValue(key, out var state))
        {
            Sweep(now, window);
            state = _windows.Count >= MaxKeys ? _windows.GetOrAdd((rule, IPAddress.None), _ => new Window(now)) : _windows.GetOrAdd(key, _ => new Window(now));
        }

        return state.Hit(now, window.Ticks) > threshold;
    }

    private void Sweep(long now, TimeSpan window)
    {
        var last = Interlocked.Read(ref _lastSweep);
        if (now - last < window.Ticks || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }

        foreach (var (key, state) in _windows)
        {
            if (state.IsIdle(now, window.Ticks))
            {
                _windows.TryRemove(key, out _);
            }
        }
    }

    private sealed class Window
    {
        private readonly Lock _gate = new();
        private long _start;
        private long _current;
        private long _previous;

        public Window(long now) => _start = now;

        public double Hit(long now, long length)
        {
            lock (_gate)
            {
                Roll(now, length);
                _current++;
                var overlap = 1.0 - ((double)(now - _start) / length);
                return _current + (_previous * overlap);
            }
        }

        public bool IsIdle(long now, long length)
        {
            lock (_gate)
            {
                return now - _start >= 2 * length;
            }
        }

        private void Roll(long now, long length)
        {
            var elapsed = now - _start;
            if (elapsed < length)
            {
                return;
            }

            // One window later the current count becomes the previous one; two or more later both are stale.
            _previous = elapsed < 2 * length ? _current : 0;
            _current = 0;
            _start += elapsed / length * length;
        }
    }
}
