#include "policy/latency_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "policy/random.h"

namespace rampart::policy {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr double kAlpha = LatencySketch::kRelativeAccuracy;

// A duration log-uniform in [1 us, 1000 s].
Duration logUniform(Rng& rng) {
  return Duration(static_cast<int64_t>(1e3 * std::pow(10.0, 9.0 * rng.uniform())));
}

void expectWithinAlpha(Duration actual, Duration expected) {
  const double a = static_cast<double>(actual.count());
  const double e = static_cast<double>(expected.count());
  EXPECT_LE(std::abs(a - e), kAlpha * e + 1.0) << "actual " << a << " expected " << e;
}

TEST(LatencySketchTest, EmptySketchReportsZeros) {
  LatencySketch s;
  EXPECT_EQ(s.count(), 0u);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.quantile(0.5), Duration::zero());
  EXPECT_EQ(s.min(), Duration::zero());
  EXPECT_EQ(s.max(), Duration::zero());
  EXPECT_EQ(s.mean(), Duration::zero());
}

TEST(LatencySketchTest, EveryValueMapsToABucketWithinAlpha) {
  for (double x = 1e3; x <= 1e12; x *= 1.0007) {
    const auto ns = static_cast<int64_t>(x);
    const size_t i = LatencySketch::bucketIndex(ns);
    ASSERT_LT(i, LatencySketch::kBucketCount);
    const double rep = static_cast<double>(LatencySketch::bucketValue(i).count());
    const auto v = static_cast<double>(ns);
    // +1 ns: the representative itself is rounded to whole nanoseconds.
    ASSERT_LE(std::abs(rep - v), kAlpha * v + 1.0) << "value " << ns << " bucket " << i;
  }
  EXPECT_EQ(LatencySketch::bucketIndex(1000), 0u);
  EXPECT_EQ(LatencySketch::bucketIndex(1'000'000'000'000), LatencySketch::kBucketCount - 1);
}

// The fast index must equal the exact one, floor(log_γ(x / 1 us)), around every
// bucket boundary, where an approximate log would go wrong first.
TEST(LatencySketchTest, FastIndexMatchesExactLogAtEveryBoundary) {
  const double gamma = (1 + kAlpha) / (1 - kAlpha);
  for (size_t i = 1; i < LatencySketch::kBucketCount; ++i) {
    const double bound = 1e3 * std::pow(gamma, static_cast<double>(i));
    for (double x : {std::floor(bound) - 1, std::floor(bound), std::ceil(bound),
                     std::ceil(bound) + 1, bound * 1.005, bound * 0.995}) {
      const auto ns = static_cast<int64_t>(x);
      if (ns > 1'000'000'000'000) continue;
      const double exact = std::log(static_cast<double>(ns) / 1e3) / std::log(gamma);
      // Skip values within 1e-9 of a boundary, where the two ways of rounding may differ.
      if (std::abs(exact - std::round(exact)) < 1e-9) continue;
      ASSERT_EQ(LatencySketch::bucketIndex(ns), static_cast<size_t>(std::floor(exact))) << ns;
    }
  }
}

TEST(LatencySketchTest, BucketIndexIsMonotonic) {
  size_t last = 0;
  // Steps of 1/400 of the value: finer than a bucket (2%), so no bucket is skipped.
  for (int64_t ns = 1000; ns < 1'000'000'000'000; ns += std::max<int64_t>(1, ns / 400)) {
    const size_t i = LatencySketch::bucketIndex(ns);
    ASSERT_GE(i, last);
    ASSERT_LE(i, last + 1);
    last = i;
  }
}

TEST(LatencySketchTest, QuantilesAreWithinRelativeAccuracy) {
  Rng rng(1);
  LatencySketch s;
  std::vector<Duration> values;
  for (int i = 0; i < 100000; ++i) {
    values.push_back(logUniform(rng));
    s.record(values.back());
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const auto rank = static_cast<size_t>(q * static_cast<double>(values.size() - 1));
    SCOPED_TRACE(q);
    expectWithinAlpha(s.quantile(q), values[rank]);
  }
  EXPECT_EQ(s.count(), values.size());
  EXPECT_EQ(s.min(), values.front());
  EXPECT_EQ(s.max(), values.back());
}

TEST(LatencySketchTest, TailOfABimodalDistribution) {
  LatencySketch s;
  for (int i = 0; i < 9900; ++i) s.record(milliseconds(10));
  for (int i = 0; i < 100; ++i) s.record(milliseconds(500));
  expectWithinAlpha(s.quantile(0.5), milliseconds(10));
  expectWithinAlpha(s.quantile(0.99), milliseconds(10));
  expectWithinAlpha(s.quantile(0.995), milliseconds(500));
  EXPECT_EQ(s.max(), milliseconds(500));
}

TEST(LatencySketchTest, MeanIsExact) {
  LatencySketch s;
  s.record(milliseconds(1));
  s.record(milliseconds(2));
  s.record(milliseconds(6));
  EXPECT_EQ(s.mean(), milliseconds(3));
  s.recordMany(milliseconds(3), 3);
  EXPECT_EQ(s.count(), 6u);
  EXPECT_EQ(s.mean(), milliseconds(3));
}

TEST(LatencySketchTest, OutOfRangeValuesClampToTheEnds) {
  LatencySketch s;
  s.record(nanoseconds(5));
  s.record(nanoseconds(-100));
  s.record(std::chrono::hours(2));
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.min(), microseconds(1));
  EXPECT_EQ(s.max(), seconds(1000));
  EXPECT_EQ(s.quantile(0.0), microseconds(1));
  EXPECT_EQ(s.quantile(1.0), seconds(1000));
}

TEST(LatencySketchTest, QuantileArgumentIsClamped) {
  LatencySketch s;
  for (int i = 1; i <= 100; ++i) s.record(milliseconds(i));
  EXPECT_EQ(s.quantile(-1.0), milliseconds(1));
  EXPECT_EQ(s.quantile(std::nan("")), milliseconds(1));
  EXPECT_EQ(s.quantile(7.0), milliseconds(100));
}

TEST(LatencySketchTest, SingleValueIsReportedExactly) {
  LatencySketch s;
  s.record(microseconds(12345));
  // Clamping to [min, max] makes a single-valued sketch exact, not just within α.
  EXPECT_EQ(s.quantile(0.5), microseconds(12345));
  EXPECT_EQ(s.quantile(0.99), microseconds(12345));
}

TEST(LatencySketchTest, MergeEqualsSketchOfTheUnion) {
  Rng rng(9);
  LatencySketch a, b, all;
  for (int i = 0; i < 5000; ++i) {
    const Duration fast = microseconds(100 + rng.below(900));
    a.record(fast);
    all.record(fast);
  }
  for (int i = 0; i < 3000; ++i) {
    const Duration slow = milliseconds(50 + rng.below(200));
    b.record(slow);
    all.record(slow);
  }
  LatencySketch merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.mean(), all.mean());
  for (double q : {0.1, 0.5, 0.62, 0.63, 0.9, 0.99}) {
    EXPECT_EQ(merged.quantile(q), all.quantile(q)) << q;
  }
  // Merging into an empty sketch and merging an empty one are both identities.
  LatencySketch empty;
  empty.merge(a);
  EXPECT_EQ(empty.quantile(0.5), a.quantile(0.5));
  a.merge(LatencySketch());
  EXPECT_EQ(a.count(), 5000u);
}

TEST(LatencySketchTest, ClearForgetsEverything) {
  LatencySketch s;
  s.record(milliseconds(5));
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.quantile(0.9), Duration::zero());
  s.record(milliseconds(1));
  EXPECT_EQ(s.max(), milliseconds(1));
}

TEST(LatencySketchTest, MemoryIsBounded) {
  // Fixed array, no heap: a worker can hold one per route and endpoint.
  EXPECT_LE(sizeof(LatencySketch), sizeof(uint64_t) * LatencySketch::kBucketCount + 64);
  EXPECT_LE(LatencySketch::kBucketCount, 1040u);
}

}  // namespace
}  // namespace rampart::policy
