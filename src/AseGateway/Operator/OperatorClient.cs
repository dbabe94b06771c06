using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AseGateway.Cli.Operator;

/// <summary>
/// The operator's command line over the management API: people get tables, scripts get <c>--json</c> and exit
/// codes they can rely on (0 ok, 1 unreachable or unexpected, 2 invalid input, 3 conflict, 4 not authorised,
/// 5 not found). The key comes from an environment variable, never from the command line (shell history).
/// </summary>
internal sealed class OperatorClient : IDisposable
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Invalid = 2;
    public const int Conflict = 3;
    public const int Unauthorized = 4;
    public const int NotFound = 5;

    public const string KeyVariable = "ASEGATEWAY_API_KEY";
    public const string UrlVariable = "ASEGATEWAY_URL";

    private readonly HttpClient _http;
    private readonly TextWriter _out;
    private readonly TextWriter _error;
    private readonly bool _json;

    public OperatorClient(Uri baseUrl, string? key, bool json, TextWriter output, TextWriter error, HttpMessageHandler? handler = null)
    {
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.BaseAddress = baseUrl;
        _http.Timeout = TimeSpan.FromSeconds(100);
        if (!string.IsNullOrEmpty(key))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        _json = json;
        _out = output;
        _error = error;
    }

    public static Uri DefaultUrl => new(Environment.GetEnvironmentVariable(UrlVariable) is { Length: > 0 } url ? url : "http://127.0.0.1:9090/");

    public void Dispose() => _http.Dispose();

    public async Task<int> StatusAsync()
    {
        var (code, environment) = await GetAsync("/api/environment");
        if (code != Ok)
        {
            return code;
        }

        var (appsCode, apps) = await GetAsync("/api/apps");
        if (appsCode != Ok)
        {
            return appsCode;
        }

        if (_json)
        {
            await _out.WriteLineAsync(new JsonObject { ["environment"] = environment!.DeepClone(), ["apps"] = apps!.DeepClone() }.ToJsonString(Indented));
            return Ok;
        }

        await _out.WriteLineAsync($"environment {S(environment, "name")}  generation {S(environment, "generation")}  workers {S(environment, "workersUsed")}/{S(environment, "workersTotal")} used (max {S(environment, "maxTotalWorkers")})");
        var rows = new List<string[]> { AppColumns };
        foreach (var app in apps!.AsArray())
        {
            rows.Add([S(app, "name"), S(app, "plan"), S(app, "workerPool"), S(app, "instanceCount"), S(app, "instancesAvailable"), string.Join(",", app!["hostNames"]!.AsArray().Select(h => h!.GetValue<string>()))]);
        }

        await WriteTableAsync(rows);
        return Ok;
    }

    public async Task<int> PoolsAsync()
    {
        var (code, pools) = await GetAsync("/api/workerPools");
        if (code != Ok || _json)
        {
            return code == Ok ? await PrintJsonAsync(pools) : code;
        }

        var rows = new List<string[]> { PoolColumns };
        foreach (var pool in pools!.AsArray())
        {
            rows.Add([S(pool, "name"), S(pool, "workerSize"), S(pool, "kind"), S(pool, "workerCount"), S(pool, "workersUsed"), S(pool, "workersAvailable"), string.Join(",", pool!["plans"]!.AsArray().Select(p => p!.GetValue<string>())), S(pool, "scaling")]);
        }

        await WriteTableAsync(rows);
        return Ok;
    }

    /// <summary>Scales a worker pool (its workers) or a plan (its instances), whichever the name is.</summary>
    public async Task<int> ScaleAsync(string name, int count, string? kind)
    {
        if (kind is null)
        {
            var (code, pools) = await GetAsync("/api/workerPools");
            if (code != Ok)
            {
                return code;
            }

            kind = pools!.AsArray().Any(p => string.Equals(S(p, "name"), name, StringComparison.OrdinalIgnoreCase)) ? "pool" : "plan";
        }

        var (path, body) = kind == "pool"
            ? ($"/api/workerPools/{Uri.EscapeDataString(name)}/scale", new JsonObject { ["workerCount"] = count })
            : ($"/api/plans/{Uri.EscapeDataString(name)}/scale", new JsonObject { ["instanceCount"] = count });
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        return await SendAsync(HttpMethod.Post, path, content, $"{kind} '{name}' scaling to {count}: accepted");
    }

    /// <summary>Drains an instance given as <c>app/index</c> (e.g. <c>hello/0</c>).</summary>
    public async Task<int> DrainAsync(string instance, bool wait)
    {
        var slash = instance.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(instance.AsSpan(slash + 1), out var index))
        {
            await _error.WriteLineAsync($"'{instance}' is not an instance: write app/index, e.g. hello/0");
            return Invalid;
        }

        var path = $"/api/apps/{Uri.EscapeDataString(instance[..slash])}/instances/{index}/drain{(wait ? "?wait=true" : string.Empty)}";
        return await SendAsync(HttpMethod.Post, path, null, wait ? $"{instance}: drained" : $"{instance}: draining");
    }

    public async Task<int> ConfigGetAsync()
    {
        using var response = await _http.GetAsync("/api/config");
        if (!response.IsSuccessStatusCode)
        {
            return await ReportAsync(response);
        }

        await _out.WriteAsync(await response.Content.ReadAsStringAsync());
        return Ok;
    }

    public async Task<int> ConfigValidateAsync(FileInfo file)
    {
        using var content = new ByteArrayContent(await File.ReadAllBytesAsync(file.FullName));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await SendAsync(HttpMethod.Post, "/api/config/validate", content, $"{file.Name}: valid");
    }

    /// <summary>Replaces the running configuration, safely: GET the version, PUT with If-Match.</summary>
    public async Task<int> ConfigApplyAsync(FileInfo file)
    {
        using var current = await _http.GetAsync("/api/config");
        if (!current.IsSuccessStatusCode)
        {
            return await ReportAsync(current);
        }

        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/config") { Content = new ByteArrayContent(await File.ReadAllBytesAsync(file.FullName)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("If-Match", current.Headers.ETag?.Tag ?? "*");
        using var response = await _http.SendAsync(request);
        return await FinishAsync(response, $"{file.Name}: applied");
    }

    public async Task<int> ExplainAsync(string source, int port)
    {
        var (code, explanation) = await GetAsync($"/api/nsg/explain?source={Uri.EscapeDataString(source)}&port={port}");
        if (code != Ok || _json)
        {
            return code == Ok ? await PrintJsonAsync(explanation) : code;
        }

        await _out.WriteLineAsync($"{S(explanation, "access").ToUpperInvariant()}  {S(explanation, "source")} → port {S(explanation, "port")}");
        await _out.WriteLineAsync(S(explanation, "reason"));
        return Ok;
    }

    private static readonly string[] AppColumns = ["APP", "PLAN", "POOL", "INSTANCES", "AVAILABLE", "HOSTS"];
    private static readonly string[] PoolColumns = ["POOL", "SIZE", "KIND", "WORKERS", "USED", "FREE", "PLANS", "SCALING"];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private async Task<(int Code, JsonNode? Body)> GetAsync(string path)
    {
        try
        {
            using var response = await _http.GetAsync(path);
            if (!response.IsSuccessStatusCode)
            {
                return (await ReportAsync(response), null);
            }

            return (Ok, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
        }
        catch (HttpRequestException ex)
        {
            await _error.WriteLineAsync($"cannot reach the management API at {_http.BaseAddress}: {ex.Message}");
            return (Failed, null);
        }
    }

    private async Task<int> SendAsync(HttpMethod method, string path, HttpContent? content, string success)
    {
        try
        {
            using var request = new HttpRequestMessage(method, path) { Content = content };
            using var response = await _http.SendAsync(request);
            return await FinishAsync(response, success);
        }
        catch (HttpRequestException ex)
        {
            await _error.WriteLineAsync($"cannot reach the management API at {_http.BaseAddress}: {ex.Message}");
            return Failed;
        }
    }

    private async Task<int> FinishAsync(HttpResponseMessage response, string success)
    {
        if (!response.IsSuccessStatusCode)
        {
            return await ReportAsync(response);
        }

        var body = await response.Content.ReadAsStringAsync();
        await _out.WriteLineAsync(_json && body.Length > 0 ? body : success);
        return Ok;
    }

    private async Task<int> PrintJsonAsync(JsonNode? node)
    {
        await _out.WriteLineAsync(node?.ToJsonString(Indented) ?? "null");
        return Ok;
    }

    /// <summary>Prints the problem details (title, detail, every error with its path) and maps the status to an exit code.</summary>
    private async Task<int> ReportAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (_json)
        {
            await _error.WriteLineAsync(text);
        }
        else
        {
            try
            {
                var problem = JsonNode.Parse(text);
                await _error.WriteLineAsync($"{(int)response.StatusCode} {S(problem, "title")}: {S(problem, "detail")}");
                foreach (var error in problem?["errors"]?.AsArray() ?? [])
                {
                    await _error.WriteLineAsync($"  {S(error, "path")}: {S(error, "message")}");
                }
            }
            catch (JsonException)
            {
                await _error.WriteLineAsync($"{(int)response.StatusCode} {response.ReasonPhrase}");
            }
        }

        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => Unauthorized,
            HttpStatusCode.NotFound => NotFound,
            HttpStatusCode.Conflict or HttpStatusCode.PreconditionFailed or HttpStatusCode.PreconditionRequired => Conflict,
            HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => Invalid,
            _ => Failed,
        };
    }

    private async Task WriteTableAsync(List<string[]> rows)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (var row in rows)
        {
            await _out.WriteLineAsync(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }
    }

    private static string S(JsonNode? node, string property) => node?[property] switch
    {
        null => "-",
        JsonValue value => value.ToString(),
        var other => other.ToJsonString(),
    };
}
