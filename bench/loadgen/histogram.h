#pragma once
// A log-linear latency histogram in nanoseconds: exact below 128 ns, then 64
// linear sub-buckets per power of two, so every recorded value is reported
// within 1/64 (1.6 %) of itself. Fixed memory (~18 KiB), O(1) record, and
// mergeable by adding counts — the load generator keeps one per timeline
// interval and per priority class, so recording must never allocate.

#include <array>
#include <cstdint>

namespace rampart::loadgen {

class LatencyHistogram {
 public:
  // Adds one sample; negative values count as 0, values beyond ~18 minutes as the cap.
  void record(int64_t nanos);

  // Adds every sample of other to this one.
  void merge(const LatencyHistogram& other);

  // Number of samples recorded.
  uint64_t count() const { return count_; }

  // The value at quantile q in [0, 1] (nearest rank), within 1.6 %; 0 when empty.
  int64_t quantile(double q) const;

  // Largest value recorded (exact); 0 when empty.
  int64_t max() const { return max_; }

  // Arithmetic mean of the recorded values (exact); 0 when empty.
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

 private:
  static constexpr int kSubBits = 6;                     // 64 sub-buckets per power of two
  static constexpr int kLinearLimitBits = kSubBits + 1;  // values < 128 are exact
  static constexpr int kMaxBits = 40;  // 2^40 ns ≈ 18 min, far above any timeout
  static constexpr int kBuckets = (kMaxBits - kLinearLimitBits + 2) << kSubBits;

  static int bucketOf(uint64_t value);
  static int64_t valueOf(int bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
  // Sum in ns: 2^64 ns is 584 years of summed latency, enough for any run.
  uint64_t sum_ = 0;
};

}  // namespace rampart::loadgen
