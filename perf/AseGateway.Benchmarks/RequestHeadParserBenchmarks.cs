using System.Text;
using AseGateway.Http1Front;
using BenchmarkDotNet.Attributes;

namespace AseGateway.Benchmarks;

/// <summary>
/// The HTTP/1.1 front's head parser (<see cref="RequestHeadParser.TryParse"/>) on a page request with a browser's 14
/// fields (compare.sh's --browser-headers): a kept-alive client's next head with the same fields under another request
/// line, and heads whose fields change every time (a cookie's last byte), which are parsed whole.
/// </summary>
[MemoryDiagnoser]
public class RequestHeadParserBenchmarks
{
    private const int MaxHeadBytes = 32 * 1024;

    private readonly RequestHead _head = new();
    private byte[][] _sameFields = [];
    private byte[][] _otherFields = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _sameFields = [Head("/products/list?page=2", '1'), Head("/products/item/42", '1')];
        _otherFields = [Head("/products/list?page=2", '1'), Head("/products/item/42", '2')];
    }

    [Benchmark(Baseline = true)]
    public int SameFieldsOtherTarget() => (int)RequestHeadParser.TryParse(_sameFields[_next++ & 1], _head, MaxHeadBytes);

    [Benchmark]
    public int FieldsChangeEveryTime() => (int)RequestHeadParser.TryParse(_otherFields[_next++ & 1], _head, MaxHeadBytes);

    private static byte[] Head(string target, char cookieEnd) => Encoding.ASCII.GetBytes(
        $"GET {target} HTTP/1.1\r\n"
        + "Host: bench.perf.test\r\n"
        + "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n"
        + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
        + "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
        + "Accept-Encoding: gzip, deflate, br, zstd\r\n"
        + "Referer: https://bench.perf.test/products/list?page=2&sort=price&category=outdoor\r\n"
        + $"Cookie: {BenchmarkRequests.BrowserCookies[..^1]}{cookieEnd}\r\n"
        + "sec-ch-ua: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n"
        + "sec-ch-ua-mobile: ?0\r\n"
        + "sec-ch-ua-platform: \"Windows\"\r\n"
        + "Sec-Fetch-Dest: document\r\n"
        + "Sec-Fetch-Mode: navigate\r\n"
        + "Sec-Fetch-Site: same-origin\r\n"
        + "Sec-Fetch-User: ?1\r\n"
        + "Upgrade-Insecure-Requests: 1\r\n"
        + "\r\n");
}
