#include "policy/hedge_policy.h"

#include <gtest/gtest.h>

#include "policy/random.h"
#include "policy/windowed_sketch.h"

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LatencySketch constantSketch(int n, Duration d) {
  LatencySketch s;
  s.recordMany(d, static_cast<uint64_t>(n));
  return s;
}

TEST(HedgePolicyTest, HoldsTheSafeDefaultUntilMinSamples) {
  HedgePolicy h;
  EXPECT_EQ(h.delay(), seconds(1));
  h.update(constantSketch(49, milliseconds(10)));
  EXPECT_EQ(h.delay(), seconds(1));
  SimulatedTimeSource clock;
  EXPECT_EQ(h.explain(clock.now()).source, HedgeDelaySource::kDefault);
  EXPECT_EQ(toString(h.explain(clock.now()).source), "default");
}

TEST(HedgePolicyTest, LearnsTheQuantile) {
  HedgePolicy h;
  Rng rng(2);
  LatencySketch s;
  for (int i = 0; i < 20000; ++i) s.record(milliseconds(1) + Duration(rng.below(99'000'000)));
  h.update(s);
  // p95 of U(1, 100) ms is 95.05 ms: 1 % sketch error plus sampling noise.
  EXPECT_NEAR(toMillis(h.delay()), 95.05, 0.02 * 95.05);
  SimulatedTimeSource clock;
  const HedgeExplain e = h.explain(clock.now());
  EXPECT_EQ(e.source, HedgeDelaySource::kLearned);
  EXPECT_EQ(e.samples, 20000u);
  EXPECT_EQ(e.delay, h.delay());
  EXPECT_EQ(e.max_extra, 1);
}

TEST(HedgePolicyTest, DelayIsClamped) {
  HedgePolicy h;
  h.update(constantSketch(100, milliseconds(1)));
  EXPECT_EQ(h.delay(), milliseconds(5));
  h.update(constantSketch(100, seconds(3)));
  EXPECT_EQ(h.delay(), seconds(1));
}

TEST(HedgePolicyTest, FixedDelayIgnoresEvidence) {
  HedgePolicyConfig config;
  config.learned = false;
  config.fixed_after = milliseconds(30);
  HedgePolicy h(config);
  EXPECT_EQ(h.delay(), milliseconds(30));
  h.update(constantSketch(1000, milliseconds(200)));
  EXPECT_EQ(h.delay(), milliseconds(30));
  SimulatedTimeSource clock;
  EXPECT_EQ(h.explain(clock.now()).source, HedgeDelaySource::kFixed);
}

TEST(HedgePolicyTest, BudgetCapsHedges) {
  SimulatedTimeSource clock;
  HedgePolicy h;  // 0.1 of requests + 1/s over 10 s
  for (int i = 0; i < 1000; ++i) h.onRequest(clock.now());
  int hedges = 0;
  for (int i = 0; i < 1000; ++i) hedges += h.tryHedge(clock.now());
  EXPECT_EQ(hedges, 110);
  const HedgeExplain e = h.explain(clock.now());
  EXPECT_EQ(e.budget.granted_total, 110u);
  EXPECT_EQ(e.budget.refused_total, 890u);
}

TEST(HedgePolicyTest, MaxExtraZeroDisablesHedging) {
  SimulatedTimeSource clock;
  HedgePolicyConfig config;
  config.max_extra = 0;
  HedgePolicy h(config);
  for (int i = 0; i < 100; ++i) h.onRequest(clock.now());
  EXPECT_FALSE(h.tryHedge(clock.now()));
  EXPECT_EQ(h.maxExtra(), 0);
}

// Closed loop: a backend with a heavy tail (97 % at ~10 ms, 3 % at 300 ms).
// With the learned p95 delay, about 3 % of requests hedge (those past the
// delay), far below the 10 % budget, and the hedges cut the tail.
TEST(HedgePolicyTest, LearnedDelayHedgesOnlyTheTail) {
  SimulatedTimeSource clock;
  HedgePolicy h;
  WindowedLatencySketch window(seconds(10), 5);
  Rng rng(8);
  auto latency = [&] {
    return rng.uniform() < 0.03 ? milliseconds(300)
                                : milliseconds(9) + Duration(rng.below(2'000'000));
  };
  int requests = 0, hedges = 0, slow_without_hedge = 0;
  for (int s = 0; s < 30; ++s) {
    for (int i = 0; i < 500; ++i) {
      h.onRequest(clock.now());
      ++requests;
      const Duration first = latency();
      window.record(clock.now(), first);
      if (first > h.delay() && h.tryHedge(clock.now())) {
        ++hedges;
      } else if (first >= milliseconds(300)) {
        ++slow_without_hedge;
      }
      clock.advance(milliseconds(2));
    }
    h.update(window.snapshot(clock.now()));
  }
  EXPECT_LT(toMillis(h.delay()), 12.0);  // p95 is in the 9–11 ms body
  EXPECT_NEAR(static_cast<double>(hedges) / requests, 0.03, 0.01);
  // Only the first second (delay still at the 1 s default) leaves slow requests unhedged.
  EXPECT_LE(slow_without_hedge, 0.03 * 500 * 2);
}

}  // namespace
}  // namespace rampart::policy
