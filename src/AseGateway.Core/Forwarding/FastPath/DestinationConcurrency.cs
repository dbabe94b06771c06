using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace AseGateway.Forwarding.FastPath;

/// <summary>
/// YARP's in-flight request count of a destination, which PowerOfTwoChoices and LeastRequests balance on. YARP's
/// forwarder moves it with an atomic counter that is internal; the public setter is a read-then-write that would
/// lose counts under concurrency, so the fast path reaches the same atomic counter (YARP 2.3.0's layout, pinned in
/// Directory.Packages.props; a test asserts the count moves).
/// </summary>
internal static class DestinationConcurrency
{
    private const string CounterType = "Yarp.ReverseProxy.Utilities.AtomicCounter, Yarp.ReverseProxy";

    public static void Increment(DestinationState destination) => IncrementCounter(GetCounter(destination));

    public static void Decrement(DestinationState destination) => DecrementCounter(GetCounter(destination));

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_ConcurrencyCounter")]
    [return: UnsafeAccessorType(CounterType)]
    private static extern object GetCounter(DestinationState destination);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Increment")]
    private static extern int IncrementCounter([UnsafeAccessorType(CounterType)] object counter);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Decrement")]
    private static extern int DecrementCounter([UnsafeAccessorType(CounterType)] object counter);
}
