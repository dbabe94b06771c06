using System.Globalization;
using System.Text;

namespace AseGateway.Waf.Crs;

/// <summary>Phases 3 and 4: the response variables, read from the <see cref="WafResponse"/> the gateway holds back until the verdict.</summary>
internal sealed partial class CrsTransaction
{
    private WafResponse? _response;
    private string? _responseBody;

    /// <summary>Runs phase 3 (headers) or 4 (body) on the response, with the TX state the request phases left.</summary>
    public void RunResponse(int phase, WafResponse response)
    {
        _response = response;
        if (phase == 4)
        {
            _responseBody = null;
        }

        if (_engine == "Off" || Stops())
        {
            return;
        }

        RunPhase(phase);
    }

    private void AddResponseHeaders(CrsTarget target, CrsRule rule, CrsRule head)
    {
        if (_response is null)
        {
            return;
        }

        var names = target.Variable == CrsVariable.ResponseHeadersNames;
        var prefix = names ? "RESPONSE_HEADERS_NAMES" : "RESPONSE_HEADERS";
        foreach (var (name, value) in _response.Headers)
        {
            if (target.SelectsName(name))
            {
                AddChecked(target, rule, head, prefix, name, names ? name : CrsRequestData.Latin1(value));
            }
        }
    }

    /// <summary>Response variables outside the response phases are empty, as in ModSecurity (null: not a response variable).</summary>
    private string? ResponseScalar(CrsVariable variable) => variable switch
    {
        CrsVariable.ResponseStatus => _response?.Status.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        CrsVariable.ResponseProtocol => _response?.Protocol ?? string.Empty,
        CrsVariable.ResponseContentType => MediaType(_response?.ContentType),
        CrsVariable.ResponseContentLength => _response?.ContentLength?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        CrsVariable.ResponseBody => ResponseBody(),
        CrsVariable.OutboundDataError => _response?.BodyOverLimit == true ? "1" : "0",
        _ => null,
    };

    /// <summary>RESPONSE_BODY: the inspected bytes one char per byte, like REQUEST_BODY; decoded once per response.</summary>
    private string ResponseBody()
    {
        if (_response is null || _response.Body.IsEmpty)
        {
            return string.Empty;
        }

        return _responseBody ??= Encoding.Latin1.GetString(_response.Body.Span);
    }

    /// <summary>ModSecurity keeps the Content-Type up to the first ';' (no charset) in RESPONSE_CONTENT_TYPE.</summary>
    private static string MediaType(string? contentType)
    {
        if (contentType is null)
        {
            return string.Empty;
        }

        var semicolon = contentType.IndexOf(';');
        return semicolon < 0 ? contentType : contentType[..semicolon];
    }
}
