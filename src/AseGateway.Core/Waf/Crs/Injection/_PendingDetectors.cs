namespace AseGateway.Waf.Crs.Injection;

// Temporary stand-ins on the crs-engine branch until crs-inject's detectors land (the coordinator deletes this file
// at merge). They refuse to work, so a rule set using @detectSQLi/@detectXSS fails to load instead of silently
// detecting nothing.
internal static class SqlInjectionDetector
{
    public static bool IsSqlInjection(ReadOnlySpan<char> input, out string fingerprint) =>
        throw new NotSupportedException("the libinjection-equivalent SQL injection detector is not built in yet");
}

internal static class XssDetector
{
    public static bool IsXss(ReadOnlySpan<char> input) =>
        throw new NotSupportedException("the libinjection-equivalent XSS detector is not built in yet");
}
