using System.Runtime.CompilerServices;
using AseGateway.Forwarding.FastPath;

namespace AseGateway.Tests.Forwarding.FastPath;

/// <summary>
/// The builder behind the fast path's forwarding method: results, exceptions and the execution context as the
/// runtime's builders give them, and a finished call's state machine used again by the next call on the thread.
/// </summary>
public sealed class ThreadPooledValueTaskBuilderTests
{
    private static readonly AsyncLocal<string?> Ambient = new();

    [Fact]
    public async Task CallThatNeverSuspends_CompletesInPlace_AndThrowsItsException()
    {
        var done = NoSuspension(fail: false);
        Assert.True(done.IsCompletedSuccessfully);
        await done;

        var failed = NoSuspension(fail: true);
        Assert.True(failed.IsFaulted);
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => failed.AsTask());
        Assert.Equal("sync", ex.Message);
    }

    [Fact]
    public async Task SuspendedCall_CompletesOnAnotherThread_WithTheCallersContext()
    {
        Ambient.Value = "caller";
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new StrongBox<string?>();
        var task = SuspendOn(gate.Task, seen, setInside: "inside").AsTask();
        Assert.False(task.IsCompleted);

        _ = Task.Run(gate.SetResult);
        await task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("caller", seen.Value);
        // What the method set for itself stays with it, as with any async method.
        Assert.Equal("caller", Ambient.Value);
    }

    [Fact]
    public async Task SuspendedCall_PassesItsExceptionToTheTask()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = FailAfter(gate.Task).AsTask();
        gate.SetResult();
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("async", ex.Message);
    }

    [Fact]
    public async Task ManyCallsInFlight_AllComplete_AndNoneSeesAnothersState()
    {
        var gates = new TaskCompletionSource[300];
        var tasks = new Task<int>[gates.Length];
        var results = new int[gates.Length];
        for (var i = 0; i < gates.Length; i++)
        {
            gates[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var index = i;
            tasks[i] = Record(gates[i].Task, index, results).AsTask().ContinueWith(_ => index, TaskScheduler.Default);
        }

        // Completed in reverse, twice over: boxes go back to the free lists and come out again for the second wave.
        for (var i = gates.Length - 1; i >= 0; i--)
        {
            gates[i].SetResult();
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(i * 2, results[i]);
        }
    }

    [Fact]
    public void FinishedCall_StateMachineUsedAgainOnTheSameThread()
    {
        // Each call suspends once and is resumed in place. The runtime's builder boxes the state machine for every
        // call; this one takes the box the last call left on the thread. (A Debug build also allocates the state
        // machine itself, as a class, for every call of either: hence the comparison rather than zero.)
        var kept = BytesPerCall(static i => SuspendOnceInline(i));
        var boxed = BytesPerCall(static i => SuspendOnceInlineBoxed(i));
        Assert.True(kept <= boxed - 64, $"{kept} bytes per call against {boxed} with the runtime's builder");
    }

    [Fact]
    public async Task CallsStartedOnOneThreadAndFinishedOnAnother_ReuseTheFinishedStateMachines()
    {
        // As over HTTP/2: Kestrel starts the request on a pool thread and the worker's answer finishes it on an event
        // loop. Without the shared list, the finishing thread's list filled and the starting thread made every box anew.
        var kept = await BytesPerCallStartedElsewhereAsync(static handoff => SuspendOnHandoff(handoff));
        var boxed = await BytesPerCallStartedElsewhereAsync(static handoff => SuspendOnHandoffBoxed(handoff));
        Assert.True(kept <= boxed - 64, $"{kept} bytes per call against {boxed} with the runtime's builder");
    }

    /// <summary>
    /// Starts calls in batches on one thread, finishes them (their continuations and results) on another, and returns
    /// the bytes the starting thread allocated per call once the lists are warm.
    /// </summary>
    private static async Task<double> BytesPerCallStartedElsewhereAsync(Func<Handoff, ValueTask> call)
    {
        const int batches = 30;
        const int measuredFrom = 20;
        var handoff = new Handoff(100);
        var measured = 0L;
        using var started = new SemaphoreSlim(0);
        using var finished = new SemaphoreSlim(0);
        var finisher = Task.Factory.StartNew(
            () =>
            {
                for (var b = 0; b < batches; b++)
                {
                    started.Wait();
                    handoff.FinishAll();
                    finished.Release();
                }
            },
            TaskCreationOptions.LongRunning);
        var starter = Task.Factory.StartNew(
            () =>
            {
                for (var b = 0; b < batches; b++)
                {
                    var before = GC.GetAllocatedBytesForCurrentThread();
                    handoff.StartAll(call);
                    if (b >= measuredFrom)
                    {
                        measured += GC.GetAllocatedBytesForCurrentThread() - before;
                    }

                    started.Release();
                    finished.Wait();
                }
            },
            TaskCreationOptions.LongRunning);
        await Task.WhenAll(starter, finisher).WaitAsync(TimeSpan.FromSeconds(30));
        return measured / (double)((batches - measuredFrom) * handoff.Size);
    }

    private static double BytesPerCall(Func<int, ValueTask> call)
    {
        for (var i = 0; i < 10; i++)
        {
            Consume(call(i));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Consume(call(i));
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / 1000.0;
    }

    private static void Consume(ValueTask task)
    {
        Assert.True(task.IsCompletedSuccessfully);
        task.GetAwaiter().GetResult();
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskBuilder))]
    private static async ValueTask NoSuspension(bool fail)
    {
        await Task.CompletedTask;
        if (fail)
        {
            throw new InvalidOperationException("sync");
        }
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskBuilder))]
    private static async ValueTask SuspendOn(Task gate, StrongBox<string?> seen, string setInside)
    {
        await gate;
        seen.Value = Ambient.Value;
        Ambient.Value = setInside;
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskBuilder))]
    private static async ValueTask FailAfter(Task gate)
    {
        await gate;
        throw new InvalidOperationException("async");
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskBuilder))]
    private static async ValueTask Record(Task gate, int index, int[] results)
    {
        var doubled = index * 2;
        await gate;
        await Task.Yield();
        results[index] = doubled;
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskBuilder))]
    private static async ValueTask SuspendOnceInline(int value)
    {
        await new ResumeInPlace();
        GC.KeepAlive(value);
    }

    private static async ValueTask SuspendOnceInlineBoxed(int value)
    {
        await new ResumeInPlace();
        GC.KeepAlive(value);
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskBuilder))]
    private static async ValueTask SuspendOnHandoff(Handoff handoff) => await handoff;

    private static async ValueTask SuspendOnHandoffBoxed(Handoff handoff) => await handoff;

    /// <summary>
    /// An awaitable that is never complete when asked: it keeps each continuation for <see cref="FinishAll"/>, on
    /// another thread, which also reads each call's result. Arrays made once, so the starting thread allocates only
    /// what the calls do.
    /// </summary>
    private sealed class Handoff(int size) : ICriticalNotifyCompletion
    {
        private readonly Action[] _continuations = new Action[size];
        private readonly ValueTask[] _calls = new ValueTask[size];
        private int _count;

        public int Size => size;

        public bool IsCompleted => false;

        public Handoff GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => _continuations[_count] = continuation;

        public void UnsafeOnCompleted(Action continuation) => _continuations[_count] = continuation;

        public void StartAll(Func<Handoff, ValueTask> call)
        {
            for (_count = 0; _count < size; _count++)
            {
                // Stored to be read once, on the finishing thread, after its continuation ran.
#pragma warning disable CA2012
                _calls[_count] = call(this);
#pragma warning restore CA2012
            }
        }

        public void FinishAll()
        {
            for (var i = 0; i < size; i++)
            {
                _continuations[i]();
                Assert.True(_calls[i].IsCompletedSuccessfully);
                _calls[i].GetAwaiter().GetResult();
            }
        }
    }

    /// <summary>Not complete when asked, then resumes its continuation at once, on the same thread.</summary>
    private readonly struct ResumeInPlace : ICriticalNotifyCompletion
    {
        public bool IsCompleted => false;

        public ResumeInPlace GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => continuation();

        public void UnsafeOnCompleted(Action continuation) => continuation();
    }
}
