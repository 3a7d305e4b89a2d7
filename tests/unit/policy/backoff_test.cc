#include "policy/backoff.h"

#include <gtest/gtest.h>

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(BackoffTest, CeilingDoublesUpToMax) {
  Backoff b;  // 25 ms, 250 ms
  EXPECT_EQ(b.ceiling(0), milliseconds(25));
  EXPECT_EQ(b.ceiling(1), milliseconds(50));
  EXPECT_EQ(b.ceiling(2), milliseconds(100));
  EXPECT_EQ(b.ceiling(3), milliseconds(200));
  EXPECT_EQ(b.ceiling(4), milliseconds(250));
  EXPECT_EQ(b.ceiling(1000000), milliseconds(250));
  EXPECT_EQ(b.ceiling(-3), milliseconds(25));
}

TEST(BackoffTest, WaitsAreFullyJitteredBelowTheCeiling) {
  Backoff b;
  Rng rng(17);
  for (int attempt = 0; attempt < 7; ++attempt) {
    const Duration ceiling = b.ceiling(attempt);
    Duration lo = ceiling, hi = Duration::zero(), sum = Duration::zero();
    constexpr int kN = 20000;
    for (int i = 0; i < kN; ++i) {
      const Duration d = b.next(attempt, rng);
      ASSERT_GE(d, Duration::zero());
      ASSERT_LT(d, ceiling);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      sum += d;
    }
    // Uniform on [0, ceiling): mean ceiling/2, and both ends get reached.
    EXPECT_NEAR(toMillis(sum / kN) / toMillis(ceiling), 0.5, 0.02) << attempt;
    EXPECT_LT(lo, ceiling / 100);
    EXPECT_GT(hi, ceiling * 99 / 100);
  }
}

TEST(BackoffTest, NegativeAttemptIsTheFirstRetry) {
  Backoff b;
  Rng rng(1);
  for (int i = 0; i < 1000; ++i) ASSERT_LT(b.next(-5, rng), milliseconds(25));
}

TEST(BackoffTest, SameSeedSameWaits) {
  Backoff b;
  Rng r1(99), r2(99);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(b.next(i % 5, r1), b.next(i % 5, r2));
}

TEST(BackoffTest, RetryAfterHintIsHonouredWithSmallJitter) {
  Backoff b;
  Rng rng(5);
  for (int i = 0; i < 1000; ++i) {
    const Duration d = b.next(0, rng, milliseconds(100));
    ASSERT_GE(d, milliseconds(100));
    ASSERT_LT(d, milliseconds(125));
  }
}

TEST(BackoffTest, RetryAfterHintIsClampedToItsCap) {
  Backoff b;
  Rng rng(5);
  EXPECT_EQ(b.next(0, rng, seconds(30)), milliseconds(250));
  EXPECT_LE(b.next(0, rng, milliseconds(240)), milliseconds(250));
  BackoffConfig config;
  config.max_retry_after = seconds(2);
  Backoff patient(config);
  EXPECT_EQ(patient.next(0, rng, seconds(30)), seconds(2));
  const Duration d = patient.next(0, rng, seconds(1));
  EXPECT_GE(d, seconds(1));
  EXPECT_LT(d, seconds(1) + milliseconds(25));
}

TEST(BackoffTest, NegativeHintMeansRetrySoon) {
  Backoff b;
  Rng rng(5);
  for (int i = 0; i < 100; ++i) ASSERT_LT(b.next(3, rng, milliseconds(-10)), milliseconds(25));
}

TEST(BackoffTest, ConfigIsSanitised) {
  Backoff b(BackoffConfig{milliseconds(100), milliseconds(10), milliseconds(-1)});
  EXPECT_EQ(b.config().max, milliseconds(100));
  EXPECT_EQ(b.ceiling(5), milliseconds(100));
  EXPECT_EQ(b.config().max_retry_after, Duration::zero());
  Backoff zero(BackoffConfig{Duration::zero(), Duration::zero(), Duration::zero()});
  Rng rng(1);
  EXPECT_EQ(zero.next(3, rng), Duration::zero());
}

}  // namespace
}  // namespace rampart::policy
