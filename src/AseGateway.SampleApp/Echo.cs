using System.Text;
using System.Text.Json.Serialization;

namespace AseGateway.SampleApp;

/// <summary>Who this instance is, from the App Service variables the gateway sets.</summary>
internal sealed record InstanceIdentity(string AppName, string InstanceId, string InstanceName, string HostName)
{
    public static InstanceIdentity FromEnvironment() => new(
        Environment.GetEnvironmentVariable("WEBSITE_SITE_NAME") ?? "sample",
        Environment.GetEnvironmentVariable("WEBSITE_INSTANCE_ID") ?? "local",
        Environment.GetEnvironmentVariable("ASEGATEWAY_INSTANCE_NAME") ?? "local",
        Environment.GetEnvironmentVariable("WEBSITE_HOSTNAME") ?? "localhost");
}

internal sealed class HealthToggle
{
    private volatile bool _healthy = true;

    public bool Healthy
    {
        get => _healthy;
        set => _healthy = value;
    }
}

internal sealed record EchoResponse(string App, string Instance, string InstanceName, int Pid, string Method, string Url, SortedDictionary<string, string> Headers);

[JsonSerializable(typeof(EchoResponse))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class SampleJsonContext : JsonSerializerContext;

/// <summary>Answers with the app, the instance and every header received: plain text for curl, JSON on request.</summary>
internal static class Echo
{
    public static IResult Describe(HttpContext context, InstanceIdentity identity)
    {
        var request = context.Request;
        var headers = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in request.Headers)
        {
            headers[name] = value.ToString();
        }

        var url = $"{request.PathBase}{request.Path}{request.QueryString}";
        if (request.Headers.Accept.ToString().Contains("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Json(new EchoResponse(identity.AppName, identity.InstanceId, identity.InstanceName, Environment.ProcessId, request.Method, url, headers), SampleJsonContext.Default.EchoResponse);
        }

        var text = new StringBuilder()
            .Append("app: ").AppendLine(identity.AppName)
            .Append("instance: ").AppendLine(identity.InstanceId)
            .Append("instance-name: ").AppendLine(identity.InstanceName)
            .Append("pid: ").AppendLine(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Append("request: ").Append(request.Method).Append(' ').AppendLine(url)
            .AppendLine("headers:");
        foreach (var (name, value) in headers)
        {
            text.Append("  ").Append(name).Append(": ").AppendLine(value);
        }

        return Results.Text(text.ToString());
    }
}
