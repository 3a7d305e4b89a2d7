#include "policy/latency_sketch.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rampart::policy {
namespace {

constexpr double kGamma =
    (1.0 + LatencySketch::kRelativeAccuracy) / (1.0 - LatencySketch::kRelativeAccuracy);
constexpr int64_t kMinNs = LatencySketch::kMinValue.count();
constexpr int64_t kMaxNs = LatencySketch::kMaxValue.count();
constexpr size_t kBuckets = LatencySketch::kBucketCount;

// Lower bounds m·γ^i of every bucket, plus one past the end. Built by repeated
// multiplication at compile time; the ~1e-13 drift is far below α.
constexpr std::array<double, kBuckets + 1> makeBounds() {
  std::array<double, kBuckets + 1> bounds{};
  double b = static_cast<double>(kMinNs);
  for (double& bound : bounds) {
    bound = b;
    b *= kGamma;
  }
  return bounds;
}
constexpr std::array<double, kBuckets + 1> kBounds = makeBounds();
static_assert(kBounds[kBuckets] > static_cast<double>(kMaxNs), "buckets must cover the range");
static_assert(kBounds[kBuckets - 1] <= static_cast<double>(kMaxNs), "no wasted bucket");

// ln(γ) = 2·atanh(α), summed as a series so it is a compile-time constant.
constexpr double lnGamma() {
  constexpr double a = LatencySketch::kRelativeAccuracy;
  double term = a;
  double sum = 0;
  for (int k = 1; k < 40; k += 2) {
    sum += term / k;
    term *= a * a;
  }
  return 2.0 * sum;
}
// 1 / log2(γ) and log2(1000 ns): turn an approximate log2 into a bucket guess.
constexpr double kLn2 = 0.69314718055994530942;
constexpr double kInvLog2Gamma = kLn2 / lnGamma();
constexpr double kLog2Min = 3.0 * 3.32192809488736234787;  // log2(1000)
static_assert(kMinNs == 1000, "kLog2Min assumes a 1 us minimum");

// log2(x) from the double's exponent plus f + c·f·(1 − f) for the mantissa
// 1 + f; max error 0.0077 (0.27 of a bucket), which the caller corrects.
inline double approxLog2(double x) {
  const auto bits = std::bit_cast<uint64_t>(x);
  const int exponent = static_cast<int>((bits >> 52) & 0x7FF) - 1023;
  const double mantissa =
      std::bit_cast<double>((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull) - 1.0;
  constexpr double kC = 0.3465;
  return exponent + mantissa * (1.0 + kC * (1.0 - mantissa));
}

}  // namespace

size_t LatencySketch::bucketIndex(int64_t ns) {
  ns = std::clamp(ns, kMinNs, kMaxNs);
  const auto x = static_cast<double>(ns);
  const double guess = (approxLog2(x) - kLog2Min) * kInvLog2Gamma;
  auto i = static_cast<ptrdiff_t>(guess);
  i = std::clamp<ptrdiff_t>(i, 0, static_cast<ptrdiff_t>(kBuckets) - 1);
  // The guess errs by under 0.27 buckets, so its floor is at most one bucket
  // off either way: one branchless step each way makes it exact. The ends are
  // safe: x < kBounds[kBuckets] and x >= kBounds[0] after clamping.
  i += static_cast<ptrdiff_t>(x >= kBounds[static_cast<size_t>(i) + 1]);
  i -= static_cast<ptrdiff_t>(x < kBounds[static_cast<size_t>(i)]);
  return static_cast<size_t>(i);
}

Duration LatencySketch::bucketValue(size_t i) {
  i = std::min(i, kBuckets - 1);
  return Duration(static_cast<int64_t>(std::llround(kBounds[i] * 2.0 * kGamma / (1.0 + kGamma))));
}

void LatencySketch::recordMany(Duration d, uint64_t n) {
  if (n == 0) return;
  const int64_t ns = std::clamp<int64_t>(d.count(), kMinNs, kMaxNs);
  counts_[bucketIndex(ns)] += n;
  if (count_ == 0) {
    min_ns_ = max_ns_ = ns;
  } else {
    min_ns_ = std::min(min_ns_, ns);
    max_ns_ = std::max(max_ns_, ns);
  }
  count_ += n;
  sum_ns_ += static_cast<double>(ns) * static_cast<double>(n);
}

Duration LatencySketch::quantile(double q) const {
  if (count_ == 0) return Duration::zero();
  if (!(q > 0.0)) return min();  // also catches NaN
  if (q >= 1.0) return max();
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1));
  const size_t first = bucketIndex(min_ns_);
  const size_t last = bucketIndex(max_ns_);
  uint64_t seen = 0;
  size_t i = first;
  for (; i < last; ++i) {
    seen += counts_[i];
    if (seen > rank) break;
  }
  return std::clamp(bucketValue(i), min(), max());
}

Duration LatencySketch::mean() const {
  if (count_ == 0) return Duration::zero();
  return Duration(static_cast<int64_t>(std::llround(sum_ns_ / static_cast<double>(count_))));
}

void LatencySketch::merge(const LatencySketch& other) {
  if (other.count_ == 0) return;
  if (count_ == 0) {
    *this = other;
    return;
  }
  const size_t first = bucketIndex(other.min_ns_);
  const size_t last = bucketIndex(other.max_ns_);
  for (size_t i = first; i <= last; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

void LatencySketch::clear() {
  *this = LatencySketch();
}

}  // namespace rampart::policy
