namespace AseGateway.Metrics;

/// <summary>
/// Label names of the gateway's own instruments. Short and Prometheus-friendly; <c>app_instance</c> rather than
/// <c>instance</c>, which Prometheus sets on every scraped series itself.
/// </summary>
internal static class MetricLabels
{
    public const string App = "app";
    public const string Instance = "app_instance";
    public const string Plan = "plan";
    public const string Pool = "pool";
    public const string State = "state";
    public const string StatusClass = "status_class";
    public const string Protocol = "protocol";
    public const string Outcome = "outcome";
    public const string Result = "result";
    public const string Rule = "rule";
    public const string Policy = "policy";
    public const string RuleId = "rule_id";
    public const string Action = "action";
    public const string Listener = "listener";
}
