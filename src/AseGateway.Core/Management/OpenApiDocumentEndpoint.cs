using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;

namespace AseGateway.Management;

/// <summary>
/// The management API's OpenAPI document, generated on its first request instead of at start-up.
/// </summary>
/// <remarks>
/// <c>AddOpenApi</c> on the management host loads ApiExplorer, MVC Core, Microsoft.OpenApi and their dependencies
/// when it registers (about 2 MB of mapped assemblies, plus their JIT code and objects) in every gateway, though the
/// document is read by people and tools now and then. So the document is built by a throwaway host that registers
/// the same services and maps the same endpoints with <c>AddOpenApi</c>, which the framework's document service then
/// describes exactly as it would on the management host; it is built once and kept (it depends only on the code).
/// </remarks>
internal sealed class OpenApiDocumentEndpoint
{
    private const string DocumentName = "v1";

    private readonly Action<IServiceCollection> _addServices;
    private readonly Action<IEndpointRouteBuilder> _mapEndpoints;
    private readonly Lock _lock = new();
    private Task<OpenApiDocument>? _document;

    private OpenApiDocumentEndpoint(Action<IServiceCollection> addServices, Action<IEndpointRouteBuilder> mapEndpoints)
    {
        _addServices = addServices;
        _mapEndpoints = mapEndpoints;
    }

    /// <summary>
    /// Maps <c>/openapi/v1.json</c> (where <c>MapOpenApi</c> served it). <paramref name="addServices"/> and
    /// <paramref name="mapEndpoints"/> must be what the management host itself registers and maps: the document
    /// service tells a handler's service parameters from its body by the registered services.
    /// </summary>
    public static void MapOpenApiDocument(IEndpointRouteBuilder endpoints, Action<IServiceCollection> addServices, Action<IEndpointRouteBuilder> mapEndpoints)
    {
        var endpoint = new OpenApiDocumentEndpoint(addServices, mapEndpoints);
        endpoints.MapGet("/openapi/{documentName}.json", endpoint.ServeAsync).ExcludeFromDescription();
    }

    private async Task<IResult> ServeAsync(string documentName, HttpRequest request, CancellationToken cancellationToken)
    {
        if (!string.Equals(documentName, DocumentName, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.NotFound();
        }

        Task<OpenApiDocument> generation;
        lock (_lock)
        {
            // One generation for concurrent first requests; a failed one is tried again by the next request.
            if (_document is null || _document.IsFaulted || _document.IsCanceled)
            {
                _document = GenerateAsync();
            }

            generation = _document;
        }

        var document = await generation.WaitAsync(cancellationToken);
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        lock (_lock)
        {
            // As MapOpenApi does: the server is the address this request came to.
            document.Servers = [new OpenApiServer { Url = $"{request.Scheme}://{request.Host}{request.PathBase}/" }];
            document.SerializeAsV31(new OpenApiJsonWriter(text));
        }

        return TypedResults.Text(text.ToString(), "application/json;charset=utf-8");
    }

    private async Task<OpenApiDocument> GenerateAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            // The document's title and default tag come from the application name.
            ApplicationName = "AseGateway",
            ContentRootPath = AppContext.BaseDirectory,
            Args = [],
        });
        builder.Logging.ClearProviders();
        _addServices(builder.Services);
        builder.Services.AddOpenApi(DocumentName);

        // The host is never started, so routing never registers its endpoints globally: ApiExplorer reads them
        // from this data source instead.
        IEndpointRouteBuilder? routes = null;
        builder.Services.AddSingleton<EndpointDataSource>(_ => new CompositeEndpointDataSource(routes!.DataSources));
        await using var host = builder.Build();
        routes = host;
        _mapEndpoints(host);
        return await host.Services.GetRequiredKeyedService<IOpenApiDocumentProvider>(DocumentName).GetOpenApiDocumentAsync();
    }
}
