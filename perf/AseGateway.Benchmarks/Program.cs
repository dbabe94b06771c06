using BenchmarkDotNet.Running;

// Run all: dotnet run -c Release --project perf/AseGateway.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
