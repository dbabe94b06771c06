namespace AseGateway.Configuration;

/// <summary>Validation of the observability section: access log and tracing.</summary>
internal static class ObservabilityValidator
{
    public static void Validate(ObservabilityConfig? observability, List<ConfigError> errors)
    {
        if (observability?.AccessLog is { } log)
        {
            if (log.Enabled == true && string.IsNullOrWhiteSpace(log.Path))
            {
                errors.Add(new("observability.accessLog.path", "an enabled access log needs a file path"));
            }
            else if (log.Path is { } path && path.AsSpan().IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
            {
                errors.Add(new("observability.accessLog.path", $"'{path}' is not a valid file path"));
            }

            ConfigValidator.CheckRange(log.MaxFileSizeInMb, 1, 10_240, "observability.accessLog.maxFileSizeInMb", errors);
            ConfigValidator.CheckRange(log.RetainedFiles, 0, 1000, "observability.accessLog.retainedFiles", errors);
            ConfigValidator.CheckRange(log.QueueCapacity, 1, 1_000_000, "observability.accessLog.queueCapacity", errors);
        }

        if (observability?.Tracing is { } tracing)
        {
            if (tracing.OtlpEndpoint is { } endpoint
                && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
            {
                errors.Add(new("observability.tracing.otlpEndpoint", $"'{endpoint}' is not an absolute http(s) URL"));
            }

            if (tracing.SamplingRatio is { } ratio && (double.IsNaN(ratio) || ratio < 0 || ratio > 1))
            {
                errors.Add(new("observability.tracing.samplingRatio", $"must be between 0 and 1, not {ratio}"));
            }

            if (tracing.ServiceName is { } name && string.IsNullOrWhiteSpace(name))
            {
                errors.Add(new("observability.tracing.serviceName", "the service name cannot be blank"));
            }
        }
    }
}
