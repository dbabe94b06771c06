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
/// Here each thread keeps up to <see cref="MaxPerThread"/>. An HTTP/1.1 request is started and finished on its
/// client's event loop, so each loop's list holds about its share of the requests in flight, and a box stays in use on
/// the loop that made it. An HTTP/2 request is not: Kestrel starts it on a thread-pool thread and it finishes on the
/// worker connection's event loop, so boxes flowed one way, the loops' lists stayed full and the pool threads made a new
/// box for every request (a third of the 1,350 bytes a request over HTTP/2 + TLS allocated). A thread whose list is full
/// now passes half of it to a list shared by all threads (<see cref="MaxShared"/>), and a thread whose list is empty takes
/// a batch from there: one lock per <see cref="Batch"/> boxes, not per request.
/// </remarks>
internal struct ThreadPooledValueTaskBuilder
{
    /// <summary>Boxes kept per thread and state machine type: above the requests in flight on one loop in the runs.</summary>
    internal const int MaxPerThread = 256;

    /// <summary>Boxes kept in the list all threads share, per state machine type.</summary>
    internal const int MaxShared = 1024;

    /// <summary>How many boxes a thread with an empty list takes from the shared one at a time.</summary>
    internal const int Batch = 32;

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

        /// <summary>Boxes one thread finished and others start with (<see cref="ThreadPooledValueTaskBuilder"/>'s remarks).</summary>
        private static readonly Box<TStateMachine>?[] Shared = new Box<TStateMachine>?[MaxShared];
        private static readonly Lock SharedLock = new();
        private static int _sharedCount;

        private Action? _moveNext;

        public TStateMachine? StateMachine;

        public ExecutionContext? Context;

        public Action MoveNextAction => _moveNext ??= MoveNext;

        public static Box<TStateMachine> Rent()
        {
            var free = _free ??= new Box<TStateMachine>?[MaxPerThread];
            if (_freeCount == 0 && Volatile.Read(ref _sharedCount) > 0)
            {
                _freeCount = TakeShared(free);
            }

            if (_freeCount > 0)
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
            if (_freeCount == free.Length)
            {
                _freeCount = GiveShared(free, _freeCount);
            }

            if (_freeCount < free.Length)
            {
                free[_freeCount++] = this;
            }
        }

        /// <summary>Moves up to <see cref="Batch"/> boxes from the shared list into the empty <paramref name="free"/>; returns how many.</summary>
        private static int TakeShared(Box<TStateMachine>?[] free)
        {
            lock (SharedLock)
            {
                var count = Math.Min(Batch, _sharedCount);
                var from = _sharedCount - count;
                Array.Copy(Shared, from, free, 0, count);
                Array.Clear(Shared, from, count);
                Volatile.Write(ref _sharedCount, from);
                return count;
            }
        }

        /// <summary>
        /// Moves the top half of the full <paramref name="free"/> to the shared list, as far as it has room; returns how
        /// many are left. With the shared list full too, the box being recycled goes to the collector.
        /// </summary>
        private static int GiveShared(Box<TStateMachine>?[] free, int count)
        {
            int moved;
            lock (SharedLock)
            {
                moved = Math.Min(count / 2, MaxShared - _sharedCount);
                Array.Copy(free, count - moved, Shared, _sharedCount, moved);
                Volatile.Write(ref _sharedCount, _sharedCount + moved);
            }

            Array.Clear(free, count - moved, moved);
            return count - moved;
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
