namespace AseGateway.Configuration;

/// <summary>One problem in a configuration file: where it is (a JSON path such as <c>apps[1].hostNames[0]</c>) and what is wrong, in a plain sentence.</summary>
public sealed record ConfigError(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}
