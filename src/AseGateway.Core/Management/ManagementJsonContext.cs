using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;

namespace AseGateway.Management;

/// <summary>
/// Source-generated metadata for every type the management API reads or writes, so that it needs no reflection (and
/// the gateway can be published as Native AOT, docs/performance-log.md "Native AOT"). The management host's JSON options resolve
/// types from this context only (<see cref="Hosting.GatewayServer"/>), in the JIT build too: a handler that returns
/// a type missing here fails its tests instead of failing only in the AOT build.
/// </summary>
/// <remarks>
/// The options are the web defaults (camelCase, numbers read from strings too) without nulls, as the management
/// host's JSON options have them. Enums are strings should a DTO ever carry one (today they carry the names).
/// <see cref="ProblemDetails"/> is here for <see cref="Problems.Write"/>, which writes outside the endpoint results;
/// the framework adds its own context for problem details to the host's options. A list of <see cref="ErrorDto"/>
/// is a problem's <c>errors</c> extension, written by its run-time type. The OpenAPI document describes the handlers'
/// route and query parameters from their metadata too: <c>bool?</c> (a drain's <c>wait</c>) is the one no DTO holds.
/// </remarks>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(EnvironmentDto))]
[JsonSerializable(typeof(List<WorkerPoolDto>))]
[JsonSerializable(typeof(WorkerPoolDto))]
[JsonSerializable(typeof(WorkerCountRequest))]
[JsonSerializable(typeof(List<PlanDto>))]
[JsonSerializable(typeof(PlanDto))]
[JsonSerializable(typeof(InstanceCountRequest))]
[JsonSerializable(typeof(AcceptedDto))]
[JsonSerializable(typeof(List<AppDto>))]
[JsonSerializable(typeof(AppDto))]
[JsonSerializable(typeof(List<InstanceDto>))]
[JsonSerializable(typeof(DrainDto))]
[JsonSerializable(typeof(List<NsgRuleDto>))]
[JsonSerializable(typeof(NsgExplanationDto))]
[JsonSerializable(typeof(ConfigStatusDto))]
[JsonSerializable(typeof(ConfigChangeDto))]
[JsonSerializable(typeof(ValidationDto))]
[JsonSerializable(typeof(StatsDto))]
[JsonSerializable(typeof(List<ErrorDto>))]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(bool?))]
internal sealed partial class ManagementJsonContext : JsonSerializerContext;
