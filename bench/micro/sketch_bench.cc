// Microbenchmarks of the latency sketches on the per-request hot path
// (record) and on the control tick (quantile, merge, windowed snapshot).

#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "policy/latency_sketch.h"
#include "policy/random.h"
#include "policy/windowed_sketch.h"

namespace rampart::policy {
namespace {

// Log-uniform latencies over 10 us … 10 s, precomputed so the RNG is not timed.
std::vector<Duration> sampleLatencies(size_t n) {
  Rng rng(1);
  std::vector<Duration> out(n);
  for (Duration& d : out)
    d = Duration(static_cast<int64_t>(1e4 * std::pow(10.0, 6 * rng.uniform())));
  return out;
}

void BM_SketchRecord(benchmark::State& state) {
  const auto values = sampleLatencies(4096);
  LatencySketch s;
  size_t i = 0;
  for (auto _ : state) {
    s.record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(s.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SketchRecord);

// Baseline: the bucket index computed with std::log, to show what the bit trick saves.
void BM_BucketIndexStdLog(benchmark::State& state) {
  const auto values = sampleLatencies(4096);
  const double inv_log_gamma = 1.0 / std::log(1.01 / 0.99);
  size_t i = 0;
  for (auto _ : state) {
    const double x = static_cast<double>(values[i++ & 4095].count());
    benchmark::DoNotOptimize(static_cast<size_t>(std::log(x / 1e3) * inv_log_gamma));
  }
}
BENCHMARK(BM_BucketIndexStdLog);

void BM_BucketIndex(benchmark::State& state) {
  const auto values = sampleLatencies(4096);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(LatencySketch::bucketIndex(values[i++ & 4095].count()));
  }
}
BENCHMARK(BM_BucketIndex);

void BM_SketchQuantile(benchmark::State& state) {
  LatencySketch s;
  for (Duration d : sampleLatencies(100000)) s.record(d);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.quantile(0.99));
  }
}
BENCHMARK(BM_SketchQuantile);

void BM_SketchMerge(benchmark::State& state) {
  LatencySketch a, b;
  for (Duration d : sampleLatencies(100000)) b.record(d);
  for (auto _ : state) {
    a.merge(b);
    benchmark::DoNotOptimize(a.count());
  }
}
BENCHMARK(BM_SketchMerge);

void BM_WindowedRecord(benchmark::State& state) {
  const auto values = sampleLatencies(4096);
  WindowedLatencySketch w(std::chrono::seconds(10), 5);
  SimulatedTimeSource clock;
  size_t i = 0;
  for (auto _ : state) {
    w.record(clock.now(), values[i++ & 4095]);
    clock.advance(std::chrono::microseconds(10));  // 100k rps: slots roll over
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WindowedRecord);

void BM_WindowedSnapshot(benchmark::State& state) {
  WindowedLatencySketch w(std::chrono::seconds(10), 5);
  SimulatedTimeSource clock;
  for (Duration d : sampleLatencies(100000)) {
    w.record(clock.now(), d);
    clock.advance(std::chrono::microseconds(90));
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.snapshot(clock.now()).quantile(0.99));
  }
}
BENCHMARK(BM_WindowedSnapshot);

}  // namespace
}  // namespace rampart::policy
