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
            if (name == GcNameKnob)
            {
                // A library's file name, not a number: only for the JIT build (the next test).
                continue;
            }

            Assert.True(
                value is "true" or "false" || ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _),
                $"{name} = '{value}': give a decimal number (or true/false); Native AOT reads nothing else.");
        }
    }

    private const string GcNameKnob = "System.GC.Name";

    /// <summary>
    /// The runtime refuses to start when the collector it is told to load is not there: the segments collector is named
    /// only where its file is libclrgc.so (a Linux runtime) and only for the JIT build, as Native AOT links its
    /// collector into the binary.
    /// </summary>
    [Fact]
    public void GcName_GatewayProject_OnlyForTheJitBuildOnLinux()
    {
        var project = XDocument.Load(RepoPaths.Combine("src", "AseGateway", "AseGateway.csproj"));
        var option = Assert.Single(project.Descendants("RuntimeHostConfigurationOption"), o => (string?)o.Attribute("Include") == GcNameKnob);
        Assert.Equal("libclrgc.so", (string?)option.Attribute("Value"));
        var condition = (string?)option.Parent!.Attribute("Condition") ?? string.Empty;
        Assert.Contains("'$(PublishAot)' != 'true'", condition, StringComparison.Ordinal);
        Assert.Contains("StartsWith('linux')", condition, StringComparison.Ordinal);
        Assert.Contains("IsOSPlatform('Linux')", condition, StringComparison.Ordinal);
    }
}
