using System.Runtime.InteropServices;
using AseGateway.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace AseGateway.Tests.Hosting;

public sealed class NativeHeapTrimmerTests
{
    [Fact]
    public void TryTrim_FreedNativeMemoryBelowAnAllocation_IsReturnedToTheKernel()
    {
        // 16 MB in 64 KB blocks (below glibc's mmap threshold, so from the heap), written so that the pages are
        // resident, then freed while a later block keeps them from the heap's top, where free() would trim them itself.
        var blocks = new IntPtr[256];
        for (var i = 0; i < blocks.Length; i++)
        {
            blocks[i] = Marshal.AllocHGlobal(64 * 1024);
            for (var offset = 0; offset < 64 * 1024; offset += 4096)
            {
                Marshal.WriteByte(blocks[i], offset, 1);
            }
        }

        var guard = Marshal.AllocHGlobal(64);
        try
        {
            foreach (var block in blocks)
            {
                Marshal.FreeHGlobal(block);
            }

            Assert.True(NativeHeapTrimmer.TryTrim());
        }
        finally
        {
            Marshal.FreeHGlobal(guard);
        }
    }

    [Fact]
    public async Task Start_EachInterval_TrimsOnce_UntilDisposed()
    {
        var time = new FakeTimeProvider();
        using var trims = new SemaphoreSlim(0);
        var trimmer = NativeHeapTrimmer.Start(TimeSpan.FromSeconds(10), time, () => trims.Release());
        Assert.NotNull(trimmer);
        await using (trimmer)
        {
            Assert.Equal(0, trims.CurrentCount);
            for (var tick = 0; tick < 3; tick++)
            {
                time.Advance(TimeSpan.FromSeconds(10));
                Assert.True(await trims.WaitAsync(TimeSpan.FromSeconds(10)), $"no trim after tick {tick + 1}");
            }
        }

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, trims.CurrentCount);
    }
}
