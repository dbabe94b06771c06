using AseGateway.Waf.Crs.Injection;
using BenchmarkDotNet.Attributes;

namespace AseGateway.Benchmarks;

/// <summary>
/// The CRS <c>@detectSQLi</c> and <c>@detectXSS</c> operators on one value each: a short benign value (the common
/// case: a form field), one kilobyte of prose with quotes, "select" and "or", and a typical attack. Both should
/// allocate nothing; the SQLi attack returns an interned fingerprint.
/// </summary>
[MemoryDiagnoser]
public class InjectionDetectorBenchmarks
{
    private readonly string _benignShort = "Miles O'Brien";

    private readonly string _benignLong = BuildProse();

    private readonly string _sqlAttack = "x' AND extractvalue(1,concat(0x7e,version()))-- ";

    private readonly string _xssAttack = "\"><img src=x onerror=alert(document.cookie)>";

    [Benchmark]
    public bool SqliBenignShort() => SqlInjectionDetector.IsSqlInjection(_benignShort, out _);

    [Benchmark]
    public bool SqliBenignLong() => SqlInjectionDetector.IsSqlInjection(_benignLong, out _);

    [Benchmark]
    public bool SqliAttackInput() => SqlInjectionDetector.IsSqlInjection(_sqlAttack, out _);

    [Benchmark]
    public bool XssBenignShort() => XssDetector.IsXss(_benignShort);

    [Benchmark]
    public bool XssBenignLong() => XssDetector.IsXss(_benignLong);

    [Benchmark]
    public bool XssAttackInput() => XssDetector.IsXss(_xssAttack);

    private static string BuildProse()
    {
        const string Sentence = "Please select one or more of the options below; it's fine to leave \"notes\" empty, or write <3 lines. ";
        var text = string.Empty;
        while (text.Length < 1024)
        {
            text += Sentence;
        }

        return text[..1024];
    }
}
