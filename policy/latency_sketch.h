#pragma once
// LatencySketch: a mergeable streaming quantile sketch for request latencies.
//
// Algorithm (DDSketch-style): values are clamped to [kMinValue, kMaxValue]
// = [1 us, 1000 s] and counted in logarithmic buckets. Bucket i covers
// [m·γ^i, m·γ^(i+1)) with m = 1 us and γ = (1 + α) / (1 − α), α = 0.01, so
// 1037 buckets span the range. A quantile returns the representative
// 2·m·γ^i·γ / (1 + γ) of the bucket holding rank ⌊q·(n − 1)⌋, whose relative
// error is at most α for every value in the bucket; the result is then
// clamped to the exact [min, max] seen. Merging adds bucket counts, so the
// merge of two sketches equals the sketch of the union stream exactly.
//
// Cost: record() is a few bit operations, a short polynomial for log2, at
// most a couple of table compares and one increment; no allocation, no
// std::log. quantile() scans the buckets between min and max.
//
// Thread sharing: none. Each worker records into its own sketch; the main
// thread merges copies on its control tick.

#include <array>
#include <cstddef>
#include <cstdint>

#include "policy/time.h"

namespace rampart::policy {

class LatencySketch {
 public:
  // Relative accuracy α of every quantile (for values inside the range).
  static constexpr double kRelativeAccuracy = 0.01;
  // Smallest value kept apart; anything smaller is counted as this.
  static constexpr Duration kMinValue = std::chrono::microseconds(1);
  // Largest value kept apart; anything larger is counted as this.
  static constexpr Duration kMaxValue = std::chrono::seconds(1000);
  // Number of logarithmic buckets covering [kMinValue, kMaxValue].
  static constexpr size_t kBucketCount = 1037;

  // An empty sketch.
  LatencySketch() = default;

  // Counts one observation (clamped to [kMinValue, kMaxValue]); O(1), no allocation.
  void record(Duration d) { recordMany(d, 1); }
  // Counts `n` observations of the same value at once.
  void recordMany(Duration d, uint64_t n);

  // Number of observations recorded (including merged ones).
  uint64_t count() const { return count_; }
  // True when nothing has been recorded.
  bool empty() const { return count_ == 0; }
  // The q-quantile (q clamped to [0, 1]) within relative error α; 0 when empty.
  Duration quantile(double q) const;
  // The smallest observation (after clamping); 0 when empty.
  Duration min() const { return count_ ? Duration(min_ns_) : Duration::zero(); }
  // The largest observation (after clamping); 0 when empty.
  Duration max() const { return count_ ? Duration(max_ns_) : Duration::zero(); }
  // The exact mean of the (clamped) observations; 0 when empty.
  Duration mean() const;

  // Adds every observation of `other` into this sketch.
  void merge(const LatencySketch& other);
  // Forgets every observation.
  void clear();

  // The bucket a value (in ns) falls into, after clamping; exposed for tests.
  static size_t bucketIndex(int64_t ns);
  // The value a quantile reports for bucket `i`; exposed for tests.
  static Duration bucketValue(size_t i);

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  double sum_ns_ = 0;  // double: 1e12 ns × 1e7 samples would overflow int64
  int64_t min_ns_ = 0;
  int64_t max_ns_ = 0;
};

}  // namespace rampart::policy
