namespace AseGateway.Waf.Crs;

/// <summary>The response phases of one request's <see cref="CrsTransaction"/>, with the rule files' response-body settings.</summary>
internal sealed class CrsResponseInspection(CrsProgram program, CrsTransaction transaction) : IManagedResponseInspection
{
    public int BodyLimit => program.Response.Limit;

    public bool RejectOverLimit => program.Response.RejectOverLimit;

    public bool InspectsBodyOf(string? contentType) => program.InspectsResponseBodies && program.Response.InspectsBodyOf(contentType);

    public void InspectHeaders(WafResponse response) => transaction.RunResponse(3, response);

    public void InspectBody(WafResponse response) => transaction.RunResponse(4, response);
}
