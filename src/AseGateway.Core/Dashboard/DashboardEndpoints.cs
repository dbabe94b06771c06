using System.Collections.Frozen;
using AseGateway.Management;
using AseGateway.Metrics;
using AseGateway.Model;
using AseGateway.Nsg;
using AseGateway.Waf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace AseGateway.Dashboard;

/// <summary>
/// The status dashboard: three static files embedded in the assembly (no front-end build), served without a key
/// because they hold no data, and <c>GET /api/stats</c> — cumulative per-app counters and the recent WAF blocks and
/// NSG denials — behind the API key like every other call. The page asks for the key, keeps it in sessionStorage and
/// sends it as a header; rates are computed in the page from the cumulative counters.
/// </summary>
internal static class DashboardEndpoints
{
    public const string PagePath = "/dashboard";

    private static readonly FrozenDictionary<string, StaticFile> Files = LoadFiles();

    /// <summary>The page and its files (and the root, which redirects to the page): open without a key.</summary>
    public static bool IsPage(PathString path) =>
        path.Value is "/" or null or ""
        || path.Equals(PagePath, StringComparison.OrdinalIgnoreCase)
        || (path.StartsWithSegments(PagePath, StringComparison.OrdinalIgnoreCase, out var rest) && Files.ContainsKey(rest.Value ?? "/"));

    public static void MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", () => TypedResults.Redirect(PagePath + "/")).ExcludeFromDescription();
        endpoints.MapGet(PagePath + "/{**file}", ServeFile).ExcludeFromDescription();
        endpoints.MapGet("/api/stats", GetStats).WithTags("Dashboard");
    }

    private static IResult ServeFile(string? file, HttpContext context)
    {
        if (string.IsNullOrEmpty(file) && !context.Request.Path.Value!.EndsWith('/'))
        {
            // The page's files are relative to /dashboard/, so the bare path must gain its slash.
            return TypedResults.Redirect(PagePath + "/");
        }

        if (!Files.TryGetValue("/" + (file ?? string.Empty), out var content))
        {
            return TypedResults.NotFound();
        }

        var headers = context.Response.Headers;

        // Only this origin's own files: no inline script, no third-party anything, never framed.
        headers.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        return TypedResults.Bytes(content.Bytes, content.ContentType);
    }

    private static Ok<StatsDto> GetStats(SnapshotHolder snapshots, RequestCounts requests, WafCounters waf, NsgCounters nsg, TimeProvider time)
    {
        var snapshot = snapshots.Current;
        var totals = requests.TotalsByApp();
        var apps = new List<AppTrafficDto>(snapshot.Apps.Count);
        foreach (var app in snapshot.Apps.Values)
        {
            var sum = totals.GetValueOrDefault(app.Name);
            apps.Add(new AppTrafficDto(app.Name, sum.Requests, sum.ClientErrors, sum.ServerErrors));
        }

        apps.Sort(static (a, b) => string.CompareOrdinal(a.App, b.App));
        var unrouted = totals.GetValueOrDefault(RequestCounts.None);

        var blocks = new List<WafBlockDto>();
        foreach (var finding in waf.RecentBlocks.Newest())
        {
            blocks.Add(new WafBlockDto(finding.Time, finding.PolicyName, finding.RuleId, finding.Message, finding.ClientIp, finding.Hostname, finding.TransactionId));
        }

        var denials = new List<NsgDenialDto>();
        foreach (var denial in nsg.Recent.Newest())
        {
            denials.Add(new NsgDenialDto(denial.At, denial.Rule, denial.Source.ToString(), denial.Port));
        }

        return TypedResults.Ok(new StatsDto(time.GetUtcNow(), snapshot.Generation, apps, new AppTrafficDto(RequestCounts.None, unrouted.Requests, unrouted.ClientErrors, unrouted.ServerErrors), blocks, denials));
    }

    private static FrozenDictionary<string, StaticFile> LoadFiles()
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        var files = new Dictionary<string, StaticFile>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, type) in new[] { ("index.html", "text/html; charset=utf-8"), ("dashboard.js", "text/javascript; charset=utf-8"), ("dashboard.css", "text/css; charset=utf-8") })
        {
            using var stream = assembly.GetManifestResourceStream($"AseGateway.Dashboard.{name}")
                ?? throw new InvalidOperationException($"The dashboard file '{name}' is not embedded in {assembly.GetName().Name}.");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            files["/" + name] = new StaticFile(buffer.ToArray(), type);
        }

        files["/"] = files["/index.html"];
        return files.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    private sealed record StaticFile(byte[] Bytes, string ContentType);
}
