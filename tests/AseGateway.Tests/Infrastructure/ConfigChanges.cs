using AseGateway.Control;

namespace AseGateway.Tests.Infrastructure;

/// <summary>Tasks that complete when the gateway's control plane reports a change (bounded by the caller's WaitAsync).</summary>
public static class ConfigChanges
{
    /// <summary>A configuration of at least this generation was applied.</summary>
    public static Task NextGeneration(TestGateway gateway, long generation) =>
        Wait(gateway, r => r.Outcome == ConfigChangeOutcome.Applied && r.Generation >= generation);

    public static Task NextOutcome(TestGateway gateway, ConfigChangeOutcome outcome) => Wait(gateway, r => r.Outcome == outcome);

    private static Task Wait(TestGateway gateway, Func<ConfigChangeResult, bool> condition)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(ConfigChangeResult result)
        {
            if (condition(result))
            {
                gateway.Server.Config.Changed -= OnChanged;
                done.TrySetResult();
            }
        }

        gateway.Server.Config.Changed += OnChanged;
        return done.Task;
    }
}
