#include "policy/peak_ewma.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(PeakEwmaTest, StartsAtTheInitialEstimate) {
  SimulatedTimeSource clock;
  PeakEwma e;
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 30.0);
}

TEST(PeakEwmaTest, JumpsToPeaksAtOnce) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeSuccess(clock.now(), milliseconds(200));
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 200.0);
}

TEST(PeakEwmaTest, DecaysTowardsLowerSamplesWithTimeConstantTau) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeSuccess(clock.now(), milliseconds(100));
  // 10 ms samples every 100 ms for τ = 10 s: 10 + 90·e^-1 ≈ 43.1 ms.
  for (int i = 0; i < 100; ++i) {
    clock.advance(milliseconds(100));
    e.observeSuccess(clock.now(), milliseconds(10));
  }
  EXPECT_NEAR(e.estimateMillis(clock.now()), 10.0 + 90.0 * std::exp(-1.0), 0.05);
  // And it converges to the steady value.
  for (int i = 0; i < 1000; ++i) {
    clock.advance(milliseconds(100));
    e.observeSuccess(clock.now(), milliseconds(10));
  }
  EXPECT_NEAR(e.estimateMillis(clock.now()), 10.0, 0.01);
}

TEST(PeakEwmaTest, StaleEstimateFadesWhenRead) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeSuccess(clock.now(), milliseconds(100));
  clock.advance(seconds(10));
  EXPECT_NEAR(e.estimateMillis(clock.now()), 100.0 * std::exp(-1.0), 1e-6);
}

TEST(PeakEwmaTest, FastFailureIsExpensive) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeSuccess(clock.now(), milliseconds(20));
  e.observeFailure(clock.now(), milliseconds(1));  // an instant 503
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 1000.0);
  EXPECT_EQ(e.failures(), 1u);
  EXPECT_EQ(e.successes(), 1u);
}

TEST(PeakEwmaTest, RepeatedFailuresGrowTheCostUpToTheCap) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeFailure(clock.now(), milliseconds(1));
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 1000.0);
  e.observeFailure(clock.now(), milliseconds(1));
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 5000.0);
  e.observeFailure(clock.now(), milliseconds(1));
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 10000.0);
  e.observeFailure(clock.now(), milliseconds(1));
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 10000.0);
}

TEST(PeakEwmaTest, SlowFailureCostsAtLeastItsLatency) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeFailure(clock.now(), seconds(15));  // a timeout at 15 s
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 15000.0);
}

TEST(PeakEwmaTest, PenaltyScalesWithTheEndpointsOwnLatency) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeSuccess(clock.now(), milliseconds(800));  // a slow LLM-style backend
  e.observeFailure(clock.now(), milliseconds(5));
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 4000.0);
}

TEST(PeakEwmaTest, RecoversAfterFailuresStop) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeFailure(clock.now(), milliseconds(1));
  for (int i = 0; i < 600; ++i) {  // 60 s of healthy 20 ms responses
    clock.advance(milliseconds(100));
    e.observeSuccess(clock.now(), milliseconds(20));
  }
  EXPECT_NEAR(e.estimateMillis(clock.now()), 20.0, 3.0);
}

TEST(PeakEwmaTest, TimeGoingBackwardsDoesNotDecay) {
  SimulatedTimeSource clock;
  PeakEwma e;
  clock.advance(seconds(5));
  e.observeSuccess(clock.now(), milliseconds(50));
  const TimePoint earlier = clock.now() - seconds(3);
  EXPECT_DOUBLE_EQ(e.estimateMillis(earlier), 50.0);
  e.observeSuccess(earlier, milliseconds(10));  // w = 1: ignored, clock not moved back
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 50.0);
}

TEST(PeakEwmaTest, ResetReturnsToInitial) {
  SimulatedTimeSource clock;
  PeakEwma e;
  e.observeFailure(clock.now(), milliseconds(1));
  e.reset();
  EXPECT_DOUBLE_EQ(e.estimateMillis(clock.now()), 30.0);
}

}  // namespace
}  // namespace rampart::policy
