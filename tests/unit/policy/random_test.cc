#include "policy/random.h"

#include <gtest/gtest.h>

#include <array>
#include <set>

namespace rampart::policy {
namespace {

TEST(RngTest, SameSeedSameStream) {
  Rng a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next(), b.next());
}

TEST(RngTest, DifferentSeedsDiffer) {
  Rng a(1), b(2);
  int equal = 0;
  for (int i = 0; i < 1000; ++i) equal += a.next() == b.next();
  EXPECT_EQ(equal, 0);
}

TEST(RngTest, ZeroSeedIsWellMixed) {
  Rng rng(0);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(rng.next());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RngTest, ReseedRestartsTheStream) {
  Rng rng(7);
  const uint64_t first = rng.next();
  rng.next();
  rng.reseed(7);
  EXPECT_EQ(rng.next(), first);
}

TEST(RngTest, UniformIsInUnitIntervalWithMeanOneHalf) {
  Rng rng(3);
  double sum = 0;
  constexpr int kN = 200000;
  for (int i = 0; i < kN; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / kN, 0.5, 0.005);
}

TEST(RngTest, BelowIsInRangeAndUniform) {
  Rng rng(11);
  std::array<int, 10> hist{};
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) {
    const uint64_t v = rng.below(10);
    ASSERT_LT(v, 10u);
    ++hist[v];
  }
  // Chi-square with 9 degrees of freedom; 27.9 is the 0.999 critical value.
  double chi2 = 0;
  for (int c : hist) chi2 += (c - kN / 10.0) * (c - kN / 10.0) / (kN / 10.0);
  EXPECT_LT(chi2, 27.9);
}

TEST(RngTest, BelowDegenerateAndHugeBounds) {
  Rng rng(5);
  EXPECT_EQ(rng.below(0), 0u);
  EXPECT_EQ(rng.below(1), 0u);
  const uint64_t big = (1ull << 63) + 12345;
  int upper_half = 0;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = rng.below(big);
    ASSERT_LT(v, big);
    upper_half += v >= big / 2;
  }
  EXPECT_NEAR(upper_half / 10000.0, 0.5, 0.03);
}

}  // namespace
}  // namespace rampart::policy
