using System.Net;
using System.Text;
using AseGateway.Control;
using AseGateway.Tests.Infrastructure;
using AseGateway.Tests.Routing;
using Xunit.Abstractions;
using static AseGateway.Tests.Infrastructure.ConfigChanges;

namespace AseGateway.Tests.Control;

public sealed class ConfigReloadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task WriteByRename_NewHostName_IsServedWithoutRestart()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(TestConfigs.Static(backends.List));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.GetAsync("new.contoso.test")).StatusCode);

        var applied = NextGeneration(gateway, 2);
        folder.WriteByRename(TestConfigs.Static(backends.List).Replace("\"web.contoso.test\"", "\"web.contoso.test\", \"new.contoso.test\""));
        await applied.WaitAsync(Timeout);

        Assert.Equal("b0", await gateway.GetBodyAsync("new.contoso.test"));
    }

    [Fact]
    public async Task ConfigMapSymlinkSwap_IsReloaded()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        folder.WriteConfigMapVersion(TestConfigs.Static(backends.List));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);

        var applied = NextGeneration(gateway, 2);
        folder.WriteConfigMapVersion(TestConfigs.Static(backends.List).Replace("\"web.contoso.test\"", "\"swapped.contoso.test\""));
        await applied.WaitAsync(Timeout);

        Assert.Equal("b0", await gateway.GetBodyAsync("swapped.contoso.test"));
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.GetAsync(TestConfigs.AppHost)).StatusCode);
    }

    [Fact]
    public async Task DeleteThenRecreate_MissingFileIsAnError_LastGoodKeepsServing_ThenRecovers()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(TestConfigs.Static(backends.List));
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);

        var refused = NextOutcome(gateway, ConfigChangeOutcome.Invalid);
        folder.Delete();
        await refused.WaitAsync(Timeout);
        Assert.Contains("does not exist", gateway.Server.Config.Status.LastError!.Errors[0].Message);
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));

        var applied = NextGeneration(gateway, 2);
        folder.WriteInPlace(TestConfigs.Static(backends.List).Replace("\"web.contoso.test\"", "\"back.contoso.test\""));
        await applied.WaitAsync(Timeout);
        Assert.Equal("b0", await gateway.GetBodyAsync("back.contoso.test"));
        Assert.Null(gateway.Server.Config.Status.LastError);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{ \"name\": \"test-ase\", \"frontEnd\": { \"listeners\": [")]
    [InlineData("{ \"name\": \"test-ase\" }")]
    public async Task BrokenFile_LastGoodKeepsServing_ErrorVisible_NextSaveRecovers(string broken)
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        var good = TestConfigs.Static(backends.List);
        folder.WriteInPlace(good);
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);

        var refused = NextOutcome(gateway, ConfigChangeOutcome.Invalid);
        folder.WriteInPlace(broken);
        await refused.WaitAsync(Timeout);

        var status = gateway.Server.Config.Status;
        Assert.Equal(1, status.Generation);
        Assert.NotEmpty(status.LastError!.Errors);
        Assert.Equal(AseGateway.Configuration.ConfigLoader.Hash(File.ReadAllBytes(folder.FilePath)), status.LastError.Sha256);
        Assert.Equal("b0", await gateway.GetBodyAsync(TestConfigs.AppHost));

        var applied = NextGeneration(gateway, 2);
        folder.WriteInPlace(good.Replace("\"web.contoso.test\"", "\"fixed.contoso.test\""));
        await applied.WaitAsync(Timeout);
        Assert.Null(gateway.Server.Config.Status.LastError);
        Assert.Equal("b0", await gateway.GetBodyAsync("fixed.contoso.test"));
    }

    [Fact]
    public async Task SameBytesRewritten_IsSkipped()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        var json = TestConfigs.Static(backends.List);
        folder.WriteInPlace(json);
        await using var gateway = await TestGateway.StartAsync(new FileConfigSource(folder.FilePath), output);

        folder.WriteByRename(json);
        var result = await gateway.Server.Config.ReloadAsync("test");

        Assert.Equal(ConfigChangeOutcome.Unchanged, result.Outcome);
        Assert.Equal(1, gateway.Server.Config.Status.Generation);
    }

    [Theory]
    [InlineData("{ \"name\": ")]
    [InlineData("{ \"name\": \"x\" }")]
    public async Task RefusedFilePolledAgain_IsSkipped_GoingBackToTheServingBytes_ClearsTheError(string broken)
    {
        await using var backends = await Backends.StartAsync(1);
        var json = Encoding.UTF8.GetBytes(TestConfigs.Static(backends.List));
        var source = new InMemoryConfigSource(json, "reload test", AppContext.BaseDirectory);
        await using var gateway = await TestGateway.StartAsync(source, output);
        var config = gateway.Server.Config;

        await source.WriteAsync(Encoding.UTF8.GetBytes(broken), CancellationToken.None);
        Assert.Equal(ConfigChangeOutcome.Invalid, (await config.ReloadAsync("save")).Outcome);
        var refusedAt = config.Status.LastError!.At;

        // The next poll finds the same refused bytes: nothing to report again.
        Assert.Equal(ConfigChangeOutcome.Unchanged, (await config.ReloadAsync("poll")).Outcome);
        Assert.Equal(refusedAt, config.Status.LastError!.At);

        await source.WriteAsync(json, CancellationToken.None);
        Assert.Equal(ConfigChangeOutcome.Unchanged, (await config.ReloadAsync("poll")).Outcome);
        Assert.Null(config.Status.LastError);
        Assert.Equal(1, config.Status.Generation);
    }

    [Fact]
    public async Task PollingFallback_WithoutEvents_PicksUpChange()
    {
        await using var backends = await Backends.StartAsync(1);
        using var folder = new ConfigDirectory();
        folder.WriteInPlace(TestConfigs.Static(backends.List));
        var options = new FileConfigSource(folder.FilePath);
        await using var gateway = await TestGateway.StartAsync(options, output, pollInterval: TimeSpan.FromMilliseconds(300));

        var applied = NextGeneration(gateway, 2);
        folder.WriteInPlace(TestConfigs.Static(backends.List).Replace("\"web.contoso.test\"", "\"polled.contoso.test\""));
        await applied.WaitAsync(Timeout);

        Assert.Equal("b0", await gateway.GetBodyAsync("polled.contoso.test"));
    }
}
