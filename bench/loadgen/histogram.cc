#include "bench/loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rampart::loadgen {

int LatencyHistogram::bucketOf(uint64_t value) {
  if (value < (uint64_t{1} << kLinearLimitBits)) return static_cast<int>(value);
  const int msb = 63 - std::countl_zero(value);
  const int shift = msb - kSubBits;     // >= 1: keeps the top kSubBits + 1 bits
  const uint64_t sub = value >> shift;  // in [64, 128)
  return ((shift + 1) << kSubBits) + static_cast<int>(sub - (uint64_t{1} << kSubBits));
}

int64_t LatencyHistogram::valueOf(int bucket) {
  if (bucket < (1 << kLinearLimitBits)) return bucket;
  const int shift = (bucket >> kSubBits) - 1;
  const uint64_t sub = static_cast<uint64_t>(bucket & ((1 << kSubBits) - 1)) + (1 << kSubBits);
  // The middle of the bucket halves the worst-case error against its edges.
  return static_cast<int64_t>((sub << shift) + (uint64_t{1} << (shift - 1)));
}

void LatencyHistogram::record(int64_t nanos) {
  const uint64_t cap = (uint64_t{1} << kMaxBits) - 1;
  const uint64_t value = std::min<uint64_t>(nanos < 0 ? 0 : static_cast<uint64_t>(nanos), cap);
  ++counts_[static_cast<size_t>(bucketOf(value))];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, static_cast<int64_t>(value));
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

int64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the smallest value with at least ceil(q * n) samples at or below it.
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(valueOf(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace rampart::loadgen
