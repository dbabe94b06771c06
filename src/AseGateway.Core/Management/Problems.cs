using System.Text.Json;
using AseGateway.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AseGateway.Management;

/// <summary>RFC 9457 problem details for every management error, with configuration errors listed by path.</summary>
internal static class Problems
{
    public static ProblemHttpResult Create(int status, string title, string detail, IReadOnlyList<ConfigError>? errors = null)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (errors is { Count: > 0 })
        {
            var list = new List<ErrorDto>(errors.Count);
            foreach (var error in errors)
            {
                list.Add(new ErrorDto(error.Path, error.Message));
            }

            problem.Extensions["errors"] = list;
        }

        return TypedResults.Problem(problem);
    }

    public static Task Write(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        return context.Response.WriteAsync(JsonSerializer.Serialize(problem, ManagementJsonContext.Default.ProblemDetails));
    }
}
