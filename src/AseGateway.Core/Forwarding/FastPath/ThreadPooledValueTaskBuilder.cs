using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// An async method builder for <see cref="ValueTask"/> methods whose state machine is kept, once the method is done
/// and its result read, in a free list of the thread that read it, for the next call on that thread.
/// </summary>
/// <remarks>
/// The fast path's forwarding method suspends on every request (on the worker's answer) and its boxed state machine
/// was two thirds of the bytes a proxied request allocated (about 550 of 820). The runtime's
/// <see cref="PoolingAsyncValueTaskMethodBuilder"/> keeps one box per thread and one per core: with 64 requests in
/// flight on two event loops nearly every box was new all the same (measured: 825 bytes per request against 822).
/// Here each thread keeps up to <see cref="MaxPerThread"/>. A request is started and finished on its client's event
/// loop, so each loop's list holds about its share of the requests in flight, and a box stays in use on the loop that
/// made it.
/// </remarks>
internal struct ThreadPooledValueTaskBuilder
{
    /// <summary>Boxes kept per thread and state machine type: above the requests in flight on one loop in the runs.</summary>
    internal const int MaxPerThread = 256;

    private Box? _box;
    private Exception? _syncException;

    public static ThreadPooledValueTaskBuilder Create() => default;

    public readonly ValueTask Task => _box is { } box
        ? new ValueTask(box, box.Version)
        : _syncException is null ? default : ValueTask.FromException(_syncException);

    // Saves and restores the caller's execution and synchronization contexts around the first step, as every builder.
    // The compiler calls the builder's members on the instance, so they stay instance members.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "The async method builder pattern.")]
    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => AsyncTaskMethodBuilder.Create().Start(ref stateMachine);

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "The async method builder pattern.")]
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult()
    {
        if (_box is null)
        {
            return;
        }

        _box.SetResult();
    }

    public void SetException(Exception exception)
    {
        if (_box is null)
        {
            _syncException = exception;
            return;
        }

        _box.SetException(exception);
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => awaiter.OnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => awaiter.UnsafeOnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    private Box<TStateMachine> BoxFor<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        // The execution context is taken at each suspension, as the runtime's builders take it.
        var context = ExecutionContext.Capture();
        if (_box is Box<TStateMachine> box)
        {
            box.Context = context;
            return box;
        }

        // First suspension: the builder (inside the state machine) must point at the box before the state machine is
        // copied into it, so the copy's builder completes the box.
        box = Box<TStateMachine>.Rent();
        _box = box;
        box.StateMachine = stateMachine;
        box.Context = context;
        return box;
    }

    internal abstract class Box : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core;

        public short Version => _core.Version;

        public void SetResult() => _core.SetResult(true);

        public void SetException(Exception exception) => _core.SetException(exception);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                // Read once: the box is ready for the next call on this thread.
                _core.Reset();
                Recycle();
            }
        }

        protected abstract void Recycle();
    }

    private sealed class Box<TStateMachine> : Box
        where TStateMachine : IAsyncStateMachine
    {
        private static readonly ContextCallback MoveNextInContext = static state => ((Box<TStateMachine>)state!).StateMachine!.MoveNext();

        [ThreadStatic]
        private static Box<TStateMachine>?[]? _free;

        [ThreadStatic]
        private static int _freeCount;

        private Action? _moveNext;

        public TStateMachine? StateMachine;

        public ExecutionContext? Context;

        public Action MoveNextAction => _moveNext ??= MoveNext;

        public static Box<TStateMachine> Rent()
        {
            var free = _free;
            if (free is not null && _freeCount > 0)
            {
                var index = --_freeCount;
                var box = free[index]!;
                free[index] = null;
                return box;
            }

            return new Box<TStateMachine>();
        }

        protected override void Recycle()
        {
            // What the finished call held (the request, its features) is not kept alive by the free list.
            StateMachine = default;
            Context = null;
            var free = _free ??= new Box<TStateMachine>?[MaxPerThread];
            if (_freeCount < free.Length)
            {
                free[_freeCount++] = this;
            }
        }

        private void MoveNext()
        {
            if (Context is { } context)
            {
                ExecutionContext.Run(context, MoveNextInContext, this);
            }
            else
            {
                StateMachine!.MoveNext();
            }
        }
    }
}
