#!/usr/bin/env python3
"""Where a proxy's CPU goes, from `perf script` output (perf record -g of its process).

    perf script -i perf.data | python3 perf/profile-layers.py [--top N] [--layer NAME]

Each sample is put in one layer: the kernel's when it was taken in the kernel, else the innermost frame of its stack
that belongs to a known layer (the gateway's feature folders, then the frameworks under them). A sample in the
runtime's native code (locks, allocation, GC) thus counts for the managed layer that called it. Samples with no known
frame are named by their leaf's library. With --layer, the leaf functions listed are only those of that layer's
samples (e.g. --layer "fast path": what the fast path's samples ran, its own code or what it called). Percentages are of all the process's samples, as the README and docs/performance-log.md quote them.
.NET code is named only when the process ran with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 (perf
reads JIT-compiled names from /tmp/perf-PID.map for anonymous memory only); a Native AOT binary needs neither, and
its names (dots written as underscores) are matched with the underscores read as dots.
"""
import collections
import re
import sys

# Innermost match wins, so order only matters between markers that can match the same frame (first listed wins).
LAYERS = [
    ("fast path", "AseGateway.Forwarding.FastPath."),
    ("event loops", "AseGateway.Networking.EventLoop."),
    ("WAF", "AseGateway.Waf."),
    ("access restrictions, HTTPS, client certificates", "AseGateway.Access."),
    ("ARR affinity", "AseGateway.Affinity."),
    ("retries", "AseGateway.Forwarding.RetryMiddleware"),
    ("request metrics", "AseGateway.Metrics."),
    ("access log, tracing", "AseGateway.Observability."),
    ("NSG", "AseGateway.Nsg."),
    ("routing by exact host", "AseGateway.Routing."),
    ("HTTP/1.1 front", "AseGateway.Http1Front."),
    ("other gateway stages", "AseGateway."),
    ("OpenTelemetry", "OpenTelemetry."),
    ("YARP", "Yarp.ReverseProxy."),
    ("ASP.NET Core routing", "Microsoft.AspNetCore.Routing."),
    ("ASP.NET Core hosting", "Microsoft.AspNetCore.Hosting."),
    ("System.IO.Pipelines", "System.IO.Pipelines."),
    ("Kestrel", "Microsoft.AspNetCore.Server.Kestrel."),
    ("SslStream", "System.Net.Security."),
    ("HttpClient", "System.Net.Http."),
    ("runtime sockets", "System.Net.Sockets."),
    ("thread pool", "System.Threading.ThreadPool"),
]

LIBRARIES = [
    ("runtime native code (libcoreclr)", "libcoreclr.so"),
    ("JIT compiler", "libclrjit.so"),
    ("OpenSSL", "libssl.so"),
    ("OpenSSL", "libcrypto.so"),
    ("libc", "libc.so"),
    ("CoreLib, no caller named", "System.Private.CoreLib"),
]

SYMBOL = re.compile(r"^[0-9a-f]+ (.*?)(\+0x[0-9a-f]+)? \((.*)\)$")


def layer_of(stack):
    # A kernel frame: its address in the kernel's half (x86-64), named from kallsyms when perf could.
    if stack[0].startswith("ffffffff") or "[kernel.kallsyms]" in stack[0]:
        return "kernel"
    for frame in stack:
        # Native AOT names a method by assembly, namespace and type with every dot an underscore
        # (AseGateway_Core_AseGateway_Forwarding_FastPath_..., S_P_CoreLib_System_Threading_...): read them back.
        dotted = frame.replace("_", ".")
        for name, marker in LAYERS:
            if marker in dotted:
                return name
    for name, library in LIBRARIES:
        if library in stack[0]:
            return name
    return "other"


def leaf_name(frame):
    match = SYMBOL.match(frame)
    if not match:
        return frame
    symbol, _, library = match.groups()
    # A perf map names a method with its signature: "instance valuetype R [Assembly] Type::Method(arguments)".
    method = next((token for token in symbol.split("(", 1)[0].split(" ") if "::" in token), symbol)
    return method if method and not method.startswith("[unknown]") else f"({library.rsplit('/', 1)[-1]})"


def main():
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 25
    only = sys.argv[sys.argv.index("--layer") + 1] if "--layer" in sys.argv else None
    layers = collections.Counter()
    leaves = collections.Counter()
    total = 0
    stack = []

    def flush():
        nonlocal total
        if not stack:
            return
        total += 1
        layer = layer_of(stack)
        layers[layer] += 1
        if layer != "kernel" and (only is None or layer == only):
            leaves[leaf_name(stack[0])] += 1

    for line in sys.stdin:
        if not line.strip():
            flush()
            stack.clear()
        elif line[0] in " \t":
            stack.append(line.strip())
    flush()

    if total == 0:
        sys.exit("no samples: was `perf script` given a perf.data recorded with -g?")
    user = total - layers["kernel"]
    print(f"{total} samples: kernel {100 * layers['kernel'] / total:.1f}%, user {100 * user / total:.1f}%")
    print()
    print(f"{'layer (innermost known frame)':<52} % of samples")
    for name, count in layers.most_common():
        print(f"{name:<52} {100 * count / total:6.2f}")
    print()
    title = f"top {top} user-space leaf functions" + (f" of {only}" if only else "")
    print(f"{title:<52} % of samples")
    for name, count in leaves.most_common(top):
        print(f"{name[:120]:<52} {100 * count / total:6.2f}")


if __name__ == "__main__":
    main()
