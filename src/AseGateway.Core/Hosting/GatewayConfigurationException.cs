using AseGateway.Configuration;

namespace AseGateway.Hosting;

/// <summary>The configuration cannot be started: it carries every error, each with its JSON path.</summary>
public sealed class GatewayConfigurationException : Exception
{
    public GatewayConfigurationException(IReadOnlyList<ConfigError> errors)
        : base($"The configuration has {errors.Count} error(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}") => Errors = errors;

    public GatewayConfigurationException()
        : this([])
    {
    }

    public GatewayConfigurationException(string message)
        : base(message) => Errors = [];

    public GatewayConfigurationException(string message, Exception innerException)
        : base(message, innerException) => Errors = [];

    public IReadOnlyList<ConfigError> Errors { get; }
}
