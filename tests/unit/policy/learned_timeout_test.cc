#include "policy/learned_timeout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "policy/random.h"
#include "policy/windowed_sketch.h"

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LatencySketch uniformSketch(int n, int lo_ms, int hi_ms, uint64_t seed = 1) {
  Rng rng(seed);
  LatencySketch s;
  for (int i = 0; i < n; ++i) {
    s.record(milliseconds(lo_ms) +
             Duration(static_cast<int64_t>(rng.uniform() * 1e6 * (hi_ms - lo_ms))));
  }
  return s;
}

LatencySketch constantSketch(int n, Duration d) {
  LatencySketch s;
  s.recordMany(d, static_cast<uint64_t>(n));
  return s;
}

TEST(LearnedTimeoutTest, StartsAtTheSafeDefault) {
  LearnedTimeout t;
  EXPECT_EQ(t.current(), seconds(10));
  EXPECT_EQ(t.explain().source, TimeoutSource::kDefault);
  EXPECT_EQ(toString(t.explain().source), "default");
}

TEST(LearnedTimeoutTest, HoldsTheDefaultUntilMinSamples) {
  LearnedTimeout t;
  t.update(constantSketch(49, milliseconds(10)));
  EXPECT_EQ(t.current(), seconds(10));
  EXPECT_EQ(t.explain().source, TimeoutSource::kDefault);
  EXPECT_TRUE(t.explain().holding);
  EXPECT_EQ(t.explain().samples, 49u);
  t.update(LatencySketch());
  EXPECT_EQ(t.current(), seconds(10));
}

TEST(LearnedTimeoutTest, LearnsMultiplierTimesQuantileAndShrinksAtOnce) {
  LearnedTimeout t;
  t.update(uniformSketch(10000, 10, 20));
  // p99 of U(10, 20) ms is 19.9 ms; 3 × 19.9 = 59.7 ms, within the sketch's 1 %.
  EXPECT_NEAR(toMillis(t.current()), 59.7, 0.6);
  const TimeoutExplain& e = t.explain();
  EXPECT_EQ(e.source, TimeoutSource::kLearned);
  EXPECT_EQ(toString(e.source), "learned");
  EXPECT_EQ(e.samples, 10000u);
  EXPECT_NEAR(toMillis(e.observed_quantile), 19.9, 0.2);
  EXPECT_FALSE(e.growth_limited);
  EXPECT_FALSE(e.holding);
}

TEST(LearnedTimeoutTest, ClampsToMinAndMax) {
  LearnedTimeout fast;
  fast.update(constantSketch(100, milliseconds(1)));
  EXPECT_EQ(fast.current(), milliseconds(20));

  TimeoutPolicyConfig config;
  config.initial = seconds(8);
  LearnedTimeout slow(config);
  slow.update(constantSketch(100, seconds(5)));  // 3 × 5 s = 15 s > max 10 s
  EXPECT_EQ(slow.current(), seconds(10));
  EXPECT_EQ(slow.explain().target, seconds(10));
}

TEST(LearnedTimeoutTest, GrowsAtMostTwofoldPerUpdate) {
  LearnedTimeout t;
  t.update(constantSketch(1000, milliseconds(20)));
  ASSERT_EQ(t.current(), milliseconds(60));
  // The backend slows to 200 ms: the target is 600 ms, reached by doubling.
  const LatencySketch slow = constantSketch(1000, milliseconds(200));
  std::vector<Duration> steps;
  for (int i = 0; i < 6; ++i) {
    t.update(slow);
    steps.push_back(t.current());
  }
  EXPECT_EQ(steps[0], milliseconds(120));
  EXPECT_EQ(steps[1], milliseconds(240));
  EXPECT_EQ(steps[2], milliseconds(480));
  EXPECT_EQ(steps[3], milliseconds(600));
  EXPECT_EQ(steps[4], milliseconds(600));
  EXPECT_EQ(steps[5], milliseconds(600));
  // Then a recovery to 20 ms shrinks in one step.
  t.update(constantSketch(1000, milliseconds(20)));
  EXPECT_EQ(t.current(), milliseconds(60));
}

TEST(LearnedTimeoutTest, GrowthLimitIsReportedInExplain) {
  LearnedTimeout t;
  t.update(constantSketch(1000, milliseconds(20)));
  t.update(constantSketch(1000, milliseconds(200)));
  EXPECT_TRUE(t.explain().growth_limited);
  EXPECT_EQ(t.explain().target, milliseconds(600));
  EXPECT_EQ(t.current(), milliseconds(120));
}

TEST(LearnedTimeoutTest, HoldsTheLearnedValueWhenTrafficThinsOut) {
  LearnedTimeout t;
  t.update(constantSketch(1000, milliseconds(30)));
  ASSERT_EQ(t.current(), milliseconds(90));
  t.update(constantSketch(10, milliseconds(900)));
  EXPECT_EQ(t.current(), milliseconds(90));
  EXPECT_TRUE(t.explain().holding);
  EXPECT_EQ(t.explain().source, TimeoutSource::kLearned);
}

TEST(LearnedTimeoutTest, FixedModeIgnoresEvidence) {
  TimeoutPolicyConfig config;
  config.learned = false;
  config.fixed = seconds(2);
  LearnedTimeout t(config);
  EXPECT_EQ(t.current(), seconds(2));
  t.update(constantSketch(1000, milliseconds(5)));
  EXPECT_EQ(t.current(), seconds(2));
  EXPECT_EQ(t.explain().source, TimeoutSource::kFixed);
  EXPECT_EQ(toString(t.explain().source), "fixed");
  EXPECT_EQ(t.explain().samples, 1000u);  // evidence still shown
}

TEST(LearnedTimeoutTest, ZeroMinimumCannotPinTheValueAtZero) {
  TimeoutPolicyConfig config;
  config.min = Duration::zero();
  LearnedTimeout t(config);
  t.update(constantSketch(100, Duration(1)));  // clamped by the sketch to 1 us
  EXPECT_LT(t.current(), milliseconds(1));
  t.update(constantSketch(100, milliseconds(100)));
  EXPECT_GT(t.current(), Duration::zero());
  for (int i = 0; i < 10; ++i) t.update(constantSketch(100, milliseconds(100)));
  EXPECT_EQ(t.current(), milliseconds(300));
}

// Closed loop on simulated time: the route's sketch sees every attempt, and an
// attempt that times out is recorded at the timeout (censored). After a 25x
// slowdown the timeout must grow to cover it within a few ticks and then hold
// still (no oscillation), and each tick may at most double it.
TEST(LearnedTimeoutTest, ClosedLoopRecoversFromTooTightATimeoutWithoutOscillation) {
  SimulatedTimeSource clock;
  WindowedLatencySketch window(seconds(10), 5);
  LearnedTimeout t;
  Rng rng(4);
  auto run_second = [&](int latency_lo_ms, int latency_hi_ms) {
    for (int i = 0; i < 200; ++i) {
      const Duration latency =
          milliseconds(latency_lo_ms) +
          Duration(static_cast<int64_t>(rng.uniform() * 1e6 * (latency_hi_ms - latency_lo_ms)));
      window.record(clock.now(), std::min(latency, t.current()));
      clock.advance(milliseconds(5));
    }
    const Duration before = t.current();
    t.update(window.snapshot(clock.now()));
    EXPECT_LE(t.current(), before * 2);
  };
  for (int s = 0; s < 20; ++s) run_second(18, 22);
  EXPECT_NEAR(toMillis(t.current()), 66.0, 1.0);

  int ticks_to_cover = -1;
  std::vector<Duration> history;
  for (int s = 0; s < 40; ++s) {
    run_second(450, 550);
    history.push_back(t.current());
    if (ticks_to_cover < 0 && t.current() >= milliseconds(1600)) ticks_to_cover = s + 1;
  }
  // 66 ms → 1.6 s needs ~5 doublings; the window then fills with real latencies.
  ASSERT_GT(ticks_to_cover, 0);
  EXPECT_LE(ticks_to_cover, 7);
  // Settled: the last 20 ticks stay within 3 % of 3 × p99 (about 1.64 s).
  const auto [lo, hi] = std::minmax_element(history.end() - 20, history.end());
  EXPECT_GE(toMillis(*lo), 1600);
  EXPECT_LE(toMillis(*hi), 1700);
  EXPECT_LE(toMillis(*hi) / toMillis(*lo), 1.03);
}

}  // namespace
}  // namespace rampart::policy
