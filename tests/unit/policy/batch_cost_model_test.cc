#include "policy/batch_cost_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace rampart::policy {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

double ms(Duration d) {
  return toMillis(d);
}

// Feeds `count` batches from a + b·n with multiplicative noise ±noise and sizes 1..max_n.
void feed(BatchCostModel& model, std::mt19937_64& rng, int count, double a_ms, double b_ms,
          double noise = 0.0, std::size_t max_n = 64) {
  std::uniform_int_distribution<std::size_t> size(1, max_n);
  std::uniform_real_distribution<double> jitter(1 - noise, 1 + noise);
  for (int i = 0; i < count; ++i) {
    std::size_t n = size(rng);
    model.observe(n, fromMillis((a_ms + b_ms * static_cast<double>(n)) * jitter(rng)));
  }
}

TEST(BatchCostModel, StartsAtThePrior) {
  BatchCostModel model({.prior_fixed = milliseconds(4), .prior_per_item = microseconds(500)});
  EXPECT_EQ(model.samples(), 0u);
  EXPECT_NEAR(ms(model.predict(1)), 4.5, 1e-6);
  EXPECT_NEAR(ms(model.predict(10)), 9.0, 1e-6);
  EXPECT_NEAR(ms(model.predict(0)), 4.5, 1e-6);  // 0 rows is costed as one
}

TEST(BatchCostModel, ConvergesToTheCostCurve) {
  BatchCostModel model;  // prior 5 ms + 1 ms/row: wrong on both terms
  std::mt19937_64 rng(7);
  feed(model, rng, 200, 8.0, 0.25, 0.05);
  auto e = model.explain();
  EXPECT_NEAR(ms(e.fixed), 8.0, 0.4);
  EXPECT_NEAR(ms(e.per_item), 0.25, 0.02);
  EXPECT_EQ(e.samples, 200u);
  EXPECT_NEAR(ms(model.predict(64)), 24.0, 0.6);
  EXPECT_GT(ms(model.predictTail(32, 2.33)), ms(model.predict(32)));
}

TEST(BatchCostModel, ExactDataConvergesExactly) {
  BatchCostModel model;
  std::mt19937_64 rng(1);
  feed(model, rng, 300, 3.0, 0.5);
  EXPECT_NEAR(ms(model.explain().fixed), 3.0, 0.01);
  EXPECT_NEAR(ms(model.explain().per_item), 0.5, 0.001);
}

TEST(BatchCostModel, StragglersMoveTheFitOnlyALittle) {
  BatchCostModel model;
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::size_t> size(1, 64);
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  std::bernoulli_distribution straggler(0.05);
  for (int i = 0; i < 600; ++i) {
    std::size_t n = size(rng);
    double t = (8.0 + 0.25 * static_cast<double>(n)) * jitter(rng);
    if (straggler(rng)) t *= 10;  // a GC pause or a cold cache
    model.observe(n, fromMillis(t));
  }
  // Plain least squares would put a near 8 + 0.05·9·16 ≈ 15 ms here.
  EXPECT_NEAR(ms(model.explain().fixed), 8.0, 1.2);
  EXPECT_NEAR(ms(model.explain().per_item), 0.25, 0.05);
}

TEST(BatchCostModel, CoefficientsNeverGoNegative) {
  BatchCostModel model;
  // Bigger batches reported as cheaper: the best non-negative fit is flat.
  for (int i = 0; i < 100; ++i) {
    std::size_t n = 1 + static_cast<std::size_t>(i % 32);
    model.observe(n, fromMillis(20.0 - 0.3 * static_cast<double>(n)));
  }
  EXPECT_GE(model.explain().per_item.count(), 0);
  EXPECT_GE(model.explain().fixed.count(), 0);
  EXPECT_EQ(model.explain().per_item.count(), 0);
  // Pure per-row cost through the origin: a is pinned at 0, not negative.
  BatchCostModel origin;
  for (int i = 0; i < 100; ++i) {
    std::size_t n = 1 + static_cast<std::size_t>(i % 32);
    origin.observe(n, fromMillis(1.0 * static_cast<double>(n) - 0.5));
  }
  EXPECT_GE(origin.explain().fixed.count(), 0);
  EXPECT_NEAR(ms(origin.explain().per_item), 1.0, 0.05);
}

TEST(BatchCostModel, FollowsADoublingOfPerItemCostWithinAFewSecondsOfTraffic) {
  BatchCostModel model;
  std::mt19937_64 rng(11);
  feed(model, rng, 400, 8.0, 0.25, 0.05);
  ASSERT_NEAR(ms(model.explain().per_item), 0.25, 0.02);
  // Two endpoints at ~40 batches/s each: 3 simulated seconds are ~240 batches.
  // Count how many it takes to get within 10% of the new slope.
  int needed = -1;
  for (int i = 1; i <= 240; ++i) {
    feed(model, rng, 1, 8.0, 0.5, 0.05);
    if (needed < 0 && std::abs(ms(model.explain().per_item) - 0.5) < 0.05 &&
        std::abs(ms(model.explain().fixed) - 8.0) < 1.0) {
      needed = i;
    }
  }
  ASSERT_GT(needed, 0);
  EXPECT_LE(needed, 120);  // 1.5 s of traffic
  EXPECT_NEAR(ms(model.explain().per_item), 0.5, 0.03);
}

TEST(BatchCostModel, SameSizeBatchesKeepTheSlopeItCannotSee) {
  BatchCostModel model;
  std::mt19937_64 rng(5);
  feed(model, rng, 300, 8.0, 0.25, 0.02);
  // A long run at one size identifies only a + b·32; the slope must not drift away.
  for (int i = 0; i < 2000; ++i) model.observe(32, fromMillis(16.0));
  EXPECT_NEAR(ms(model.predict(32)), 16.0, 0.1);
  EXPECT_NEAR(ms(model.explain().per_item), 0.25, 0.05);
}

TEST(BatchCostModel, OnlyOneBatchSizeFromTheStartUsesThePriorSlope) {
  BatchCostModel model({.prior_fixed = milliseconds(5), .prior_per_item = milliseconds(1)});
  for (int i = 0; i < 200; ++i) model.observe(1, milliseconds(9));
  EXPECT_NEAR(ms(model.predict(1)), 9.0, 0.05);          // what it saw
  EXPECT_NEAR(ms(model.explain().per_item), 1.0, 0.05);  // what it did not see: the prior
}

}  // namespace
}  // namespace rampart::policy
