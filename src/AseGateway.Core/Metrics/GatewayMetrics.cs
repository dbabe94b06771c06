using System.Diagnostics;
using System.Diagnostics.Metrics;
using AseGateway.Access;
using AseGateway.Control;
using AseGateway.Forwarding;
using AseGateway.Instances;
using AseGateway.Model;
using AseGateway.Nsg;
using AseGateway.Waf;

namespace AseGateway.Metrics;

/// <summary>
/// The gateway's own meter (<c>AseGateway</c>). Counters that already exist (NSG, access restrictions, WAF, instance
/// state) are exported as observable instruments read at scrape time, never counted a second time; the rest are
/// recorded where they happen with tags made of strings the snapshot already holds, so the request path allocates
/// nothing for them.
/// </summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "AseGateway";

    private static readonly KeyValuePair<string, object?> Ok = new(MetricLabels.Result, "ok");
    private static readonly KeyValuePair<string, object?> Failed = new(MetricLabels.Result, "failed");
    private static readonly KeyValuePair<string, object?> Healthy = new(MetricLabels.Result, "healthy");
    private static readonly KeyValuePair<string, object?> Unhealthy = new(MetricLabels.Result, "unhealthy");

    private readonly RequestCounts _requests;
    private readonly SnapshotHolder _snapshots;
    private readonly InstanceManager _instances;
    private readonly ConfigController _config;

    public GatewayMetrics(
        IMeterFactory meters,
        RequestCounts requests,
        SnapshotHolder snapshots,
        InstanceManager instances,
        ConfigController config,
        NsgCounters nsg,
        AccessCounters access,
        WafCounters waf,
        RetryCounters retries)
    {
        _requests = requests;
        _snapshots = snapshots;
        _instances = instances;
        _config = config;
        var meter = meters.Create(MeterName);

        meter.CreateObservableCounter("ase.requests", requests.Observe, "{request}", "Requests answered, by app, instance, status class and protocol.");
        RequestDuration = new DurationHistogram("ase_request_duration_seconds", "Time from the first byte of a request to the end of its answer, by app.", [MetricLabels.App], DurationBounds);
        UpstreamDuration = new DurationHistogram(
            "ase_upstream_duration_seconds",
            "Time spent forwarding to a worker instance and relaying its answer, by app, instance and outcome.",
            [MetricLabels.App, MetricLabels.Instance, MetricLabels.Outcome],
            DurationBounds);
        meter.CreateObservableGauge("ase.instance.in_flight", () => SumPerInstance(runtime => instances.InFlight(runtime.State)), "{request}", "Requests in flight to each instance.");
        meter.CreateObservableGauge("ase.instances", ObserveInstanceStates, "{instance}", "Instances by state (starting, healthy, unhealthy, restarting, draining), per app, plan and pool.");
        meter.CreateObservableCounter("ase.instance.restarts", () => SumPerInstance(runtime => runtime.State.Restarts), "{restart}", "Times each process instance was restarted after it exited.");
        HealthChecks = meter.CreateCounter<long>("ase.health_checks", "{check}", "Health pings by app, instance and result.");
        meter.CreateObservableCounter("ase.nsg.denied_connections", () => Observe(nsg.All, MetricLabels.Rule), "{connection}", "Connections refused by the network security group, by rule.");
        meter.CreateObservableCounter("ase.access.denied_requests", () => ObserveAccess(access), "{request}", "Requests refused by access restrictions, by app and rule.");
        meter.CreateObservableCounter("ase.waf.matches", () => ObserveWaf(waf), "{match}", "WAF findings by policy, rule id and action (Blocked, Detected, Matched); action Blocked counts blocked requests.");
        meter.CreateObservableCounter("ase.retries", () => ObserveRetries(retries), "{request}", "Idempotent requests sent again to another instance after no response (result retried), and requests that failed with every attempt used (result exhausted).");
        ConfigReloads = meter.CreateCounter<long>("ase.config.reloads", "{reload}", "Configuration changes applied (ok) or refused (failed).");
        meter.CreateObservableGauge("ase.config.generation", () => _snapshots.Current.Generation, "{generation}", "The configuration generation serving now.");
        meter.CreateObservableGauge("ase.config.last_reload_time", () => _snapshots.Current.LoadedAt.ToUnixTimeMilliseconds() / 1000.0, "s", "When the serving configuration was applied (Unix time).");
        meter.CreateObservableGauge("ase.config.last_reload_success", () => _config.Status.LastError is null ? 1 : 0, unit: null, "1 when the last configuration change was applied, 0 when it was refused.");
        OpenConnections = meter.CreateUpDownCounter<long>("ase.connections.open", "{connection}", "Connections open now, by listener (after the NSG and the per-client cap).");
        TlsHandshakes = meter.CreateCounter<long>("ase.tls.handshakes", "{handshake}", "TLS handshakes by listener and result.");

        instances.Probed += OnProbed;
        config.Changed += OnConfigChanged;
    }

    /// <summary>Recorded on every request, so not an OpenTelemetry instrument: /metrics writes it beside them.</summary>
    public DurationHistogram RequestDuration { get; }

    /// <summary>Recorded on every forwarded request, as <see cref="RequestDuration"/>.</summary>
    public DurationHistogram UpstreamDuration { get; }

    public Counter<long> HealthChecks { get; }

    public Counter<long> ConfigReloads { get; }

    public UpDownCounter<long> OpenConnections { get; }

    public Counter<long> TlsHandshakes { get; }

    public RequestCounts Requests => _requests;

    /// <summary>
    /// Buckets from 1 ms to 30 s: a proxy's answers range from cache-fast to a slow worker's timeout. A new array each
    /// time, so no holder can change another's bounds.
    /// </summary>
    internal static double[] DurationBounds => [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    public void RecordTlsHandshake(in KeyValuePair<string, object?> listener, bool ok) => TlsHandshakes.Add(1, listener, ok ? Ok : Failed);

    private void OnProbed(InstanceState instance, HealthProbeResult result)
    {
        var spec = instance.Spec;
        HealthChecks.Add(1, new(MetricLabels.App, spec.AppName), new(MetricLabels.Instance, spec.Key), result.Healthy ? Healthy : Unhealthy);
    }

    private void OnConfigChanged(ConfigChangeResult result) => ConfigReloads.Add(1, result.Succeeded ? Ok : Failed);

    /// <summary>One value per instance key, summed over its runtimes (a replacement and the original it drains).</summary>
    private List<Measurement<long>> SumPerInstance(Func<InstanceRuntime, long> value)
    {
        var byInstance = new Dictionary<(string App, string Key), long>();
        foreach (var runtime in _instances.Registry.Snapshot())
        {
            var spec = runtime.Spec;
            byInstance[(spec.AppName, spec.Key)] = byInstance.GetValueOrDefault((spec.AppName, spec.Key)) + value(runtime);
        }

        var measurements = new List<Measurement<long>>(byInstance.Count);
        foreach (var ((app, key), sum) in byInstance)
        {
            measurements.Add(new Measurement<long>(sum, new(MetricLabels.App, app), new(MetricLabels.Instance, key)));
        }

        return measurements;
    }

    /// <summary>Every state of every configured app, zeros included, so a state that empties shows 0 instead of vanishing.</summary>
    private List<Measurement<int>> ObserveInstanceStates()
    {
        var counts = new Dictionary<(string App, string Plan, string Pool, string State), int>();
        foreach (var app in _snapshots.Current.Apps.Values)
        {
            foreach (var state in InstanceStateNames.All)
            {
                counts[(app.Name, app.PlanName, app.PoolName, state)] = 0;
            }
        }

        foreach (var runtime in _instances.Registry.Snapshot())
        {
            var spec = runtime.Spec;
            var key = (spec.AppName, spec.PlanName, spec.PoolName, InstanceStateNames.Of(runtime.State));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        var measurements = new List<Measurement<int>>(counts.Count);
        foreach (var ((app, plan, pool, state), count) in counts)
        {
            measurements.Add(new Measurement<int>(count, new TagList
            {
                { MetricLabels.App, app },
                { MetricLabels.Plan, plan },
                { MetricLabels.Pool, pool },
                { MetricLabels.State, state },
            }));
        }

        return measurements;
    }

    private static List<Measurement<long>> Observe(IEnumerable<KeyValuePair<string, long>> counts, string label)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (name, count) in counts)
        {
            measurements.Add(new Measurement<long>(count, new KeyValuePair<string, object?>(label, name)));
        }

        return measurements;
    }

    private static List<Measurement<long>> ObserveAccess(AccessCounters access)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var ((app, rule), count) in access.All)
        {
            measurements.Add(new Measurement<long>(count, new(MetricLabels.App, app), new(MetricLabels.Rule, rule)));
        }

        return measurements;
    }

    private static Measurement<long>[] ObserveRetries(RetryCounters retries) =>
    [
        new(retries.Retries, new KeyValuePair<string, object?>(MetricLabels.Result, "retried")),
        new(retries.Exhausted, new KeyValuePair<string, object?>(MetricLabels.Result, "exhausted")),
    ];

    private static List<Measurement<long>> ObserveWaf(WafCounters waf)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var ((policy, ruleId, action), count) in waf.All)
        {
            measurements.Add(new Measurement<long>(count, new(MetricLabels.Policy, policy), new(MetricLabels.RuleId, ruleId), new(MetricLabels.Action, action)));
        }

        return measurements;
    }
}
