using Microsoft.AspNetCore.Http;

namespace AseGateway.Waf;

/// <summary>
/// What the response phases see: the worker's status line and headers as the gateway is about to send them (phase 3)
/// and, for phase 4, the body as the worker sent it. The body is not decompressed: like ModSecurity behind a proxy,
/// the WAF inspects the bytes the backend sent, so a gzip-encoded body is seen encoded.
/// </summary>
internal sealed class WafResponse
{
    public WafResponse(HttpContext context)
    {
        var response = context.Response;
        Status = response.StatusCode;
        Protocol = context.Request.Protocol;
        ContentType = response.ContentType;
        ContentLength = response.ContentLength;
        Headers = new List<(string Name, string Value)>(response.Headers.Count);
        foreach (var (name, values) in response.Headers)
        {
            foreach (var value in values)
            {
                Headers.Add((name, value ?? string.Empty));
            }
        }
    }

    public int Status { get; }

    public string Protocol { get; }

    public string? ContentType { get; }

    public long? ContentLength { get; }

    public List<(string Name, string Value)> Headers { get; }

    /// <summary>The inspected body: empty until phase 4, at most the rule set's limit.</summary>
    public ReadOnlyMemory<byte> Body { get; set; }

    /// <summary>Set when the body was longer than the limit and only its start is inspected (ModSecurity's OUTBOUND_DATA_ERROR).</summary>
    public bool BodyOverLimit { get; set; }
}

/// <summary>
/// A managed rule set's response phases for one request, kept from the request's evaluation (a rule set keeps its
/// state, e.g. CRS's TX collection and anomaly scores, from request to response). Matches are reported through the
/// request's <see cref="ManagedRuleContext"/>.
/// </summary>
internal interface IManagedResponseInspection
{
    /// <summary>Largest body prefix inspected in phase 4.</summary>
    int BodyLimit { get; }

    /// <summary>True: a body over <see cref="BodyLimit"/> is refused (in Prevention); false: only its start is inspected.</summary>
    bool RejectOverLimit { get; }

    /// <summary>True when a body of this Content-Type is buffered and inspected.</summary>
    bool InspectsBodyOf(string? contentType);

    /// <summary>Phase 3: status line and headers.</summary>
    void InspectHeaders(WafResponse response);

    /// <summary>Phase 4: the body (empty when it is not inspected), after phase 3.</summary>
    void InspectBody(WafResponse response);
}

/// <summary>A rule set whose response phases still have to run for the current request.</summary>
internal sealed record WafResponseCheck(IManagedRuleSet RuleSet, ManagedRuleContext Context, IManagedResponseInspection Inspection);
