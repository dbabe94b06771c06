using System.Globalization;
using System.Xml.Linq;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Hosting;

/// <summary>The runtime settings the gateway's project file gives, as both of its builds read them.</summary>
public sealed class RuntimeKnobTests
{
    /// <summary>
    /// The JIT runtime reads a <c>RuntimeHostConfigurationOption</c> number in any base (<c>0x600000</c> works), a
    /// Native AOT binary reads the copy embedded in it as decimal only: <c>0x600000</c> parses as 0, "not set", and the
    /// setting is silently off in the AOT build (docs/performance-log.md "Native AOT": the 6 MB gen-0 cap was lost that way).
    /// </summary>
    [Fact]
    public void RuntimeHostConfigurationOptions_GatewayProject_AreDecimalNumbersOrBooleans()
    {
        var project = XDocument.Load(RepoPaths.Combine("src", "AseGateway", "AseGateway.csproj"));
        var options = project.Descendants("RuntimeHostConfigurationOption").ToList();
        Assert.NotEmpty(options);
        foreach (var option in options)
        {
            var name = (string?)option.Attribute("Include");
            var value = (string?)option.Attribute("Value") ?? string.Empty;
            Assert.True(
                value is "true" or "false" || ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _),
                $"{name} = '{value}': give a decimal number (or true/false); Native AOT reads nothing else.");
        }
    }
}
