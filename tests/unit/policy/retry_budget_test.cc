#include "policy/retry_budget.h"

#include <gtest/gtest.h>

#include <vector>

namespace rampart::policy {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RetryBudgetTest, FloorAloneAllowsMinPerSecondTimesTtl) {
  SimulatedTimeSource clock;
  RetryBudget budget;  // 0.2, 10/s, 10 s
  EXPECT_DOUBLE_EQ(budget.available(clock.now()), 100.0);
  int granted = 0;
  for (int i = 0; i < 1000; ++i) granted += budget.tryWithdraw(clock.now());
  EXPECT_EQ(granted, 100);
  EXPECT_EQ(budget.granted(), 100u);
  EXPECT_EQ(budget.refused(), 900u);
  EXPECT_DOUBLE_EQ(budget.available(clock.now()), 0.0);
}

TEST(RetryBudgetTest, RequestsEarnRatioRetries) {
  SimulatedTimeSource clock;
  RetryBudget budget(RetryBudgetConfig{0.2, 0, seconds(10), 10});
  for (int i = 0; i < 50; ++i) budget.onRequest(clock.now());
  EXPECT_NEAR(budget.available(clock.now()), 10.0, 1e-9);
  int granted = 0;
  for (int i = 0; i < 100; ++i) granted += budget.tryWithdraw(clock.now());
  EXPECT_EQ(granted, 10);
  // One more request earns 0.2 of a retry: not enough for a whole one.
  budget.onRequest(clock.now());
  EXPECT_FALSE(budget.tryWithdraw(clock.now()));
  for (int i = 0; i < 4; ++i) budget.onRequest(clock.now());
  EXPECT_TRUE(budget.tryWithdraw(clock.now()));
}

TEST(RetryBudgetTest, TotalFailureBurstStaysWithinRatioPlusFloor) {
  SimulatedTimeSource clock;
  RetryBudget budget;
  // 10,000 requests in 5 s, every attempt fails, each request tries 3 retries.
  constexpr int kRequests = 10000;
  int retries = 0;
  for (int i = 0; i < kRequests; ++i) {
    budget.onRequest(clock.now());
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (!budget.tryWithdraw(clock.now())) break;
      ++retries;
    }
    clock.advance(microseconds(500));
  }
  EXPECT_LE(retries, 0.2 * kRequests + 100);
  // The budget is also used, not just a refusal machine.
  EXPECT_GE(retries, 0.2 * kRequests);
}

TEST(RetryBudgetTest, SustainedFailureKeepsTheBoundInEveryWindow) {
  SimulatedTimeSource clock;
  RetryBudget budget;
  // 60 s at 1000 rps, 100 % failure, 2 retries wanted per request.
  std::vector<int> requests_per_s(60), retries_per_s(60);
  for (int s = 0; s < 60; ++s) {
    for (int i = 0; i < 1000; ++i) {
      budget.onRequest(clock.now());
      ++requests_per_s[s];
      for (int a = 0; a < 2 && budget.tryWithdraw(clock.now()); ++a) ++retries_per_s[s];
      clock.advance(milliseconds(1));
    }
  }
  int total_retries = 0;
  for (int s = 0; s < 60; ++s) total_retries += retries_per_s[s];
  for (int s = 0; s + 10 <= 60; ++s) {
    int req = 0, ret = 0;
    for (int k = s; k < s + 10; ++k) {
      req += requests_per_s[k];
      ret += retries_per_s[k];
    }
    EXPECT_LE(ret, 0.2 * req + 100 + 1) << "window starting at " << s << " s";
  }
  // Load amplification: (requests + retries) / requests stays near 1.2 + floor/rate.
  const double amplification = (60000.0 + total_retries) / 60000.0;
  EXPECT_LE(amplification, 1.2 + 10.0 / 1000.0 + 0.02);
  EXPECT_GE(amplification, 1.19);
}

TEST(RetryBudgetTest, RefillsAsTimePasses) {
  SimulatedTimeSource clock;
  RetryBudget budget;
  while (budget.tryWithdraw(clock.now())) {
  }
  EXPECT_FALSE(budget.tryWithdraw(clock.now()));
  clock.advance(seconds(5));
  EXPECT_FALSE(budget.tryWithdraw(clock.now()));  // spent retries still inside the window
  clock.advance(seconds(5));
  EXPECT_NEAR(budget.available(clock.now()), 100.0, 1e-9);
  EXPECT_TRUE(budget.tryWithdraw(clock.now()));
}

TEST(RetryBudgetTest, RequestsExpireWithTheWindow) {
  SimulatedTimeSource clock;
  RetryBudget budget(RetryBudgetConfig{0.5, 0, seconds(10), 10});
  for (int i = 0; i < 100; ++i) budget.onRequest(clock.now());
  EXPECT_NEAR(budget.available(clock.now()), 50.0, 1e-9);
  clock.advance(seconds(9));
  EXPECT_NEAR(budget.available(clock.now()), 50.0, 1e-9);
  clock.advance(seconds(2));
  EXPECT_DOUBLE_EQ(budget.available(clock.now()), 0.0);
}

TEST(RetryBudgetTest, PerWorkerSharesSumToTheConfiguredFloor) {
  SimulatedTimeSource clock;
  // The proxy splits min_per_second = 10 over 3 workers.
  std::vector<RetryBudget> workers(3,
                                   RetryBudget(RetryBudgetConfig{0.2, 10.0 / 3, seconds(10), 10}));
  int granted = 0;
  for (RetryBudget& w : workers) {
    while (w.tryWithdraw(clock.now())) ++granted;
  }
  EXPECT_LE(granted, 100);
  EXPECT_GE(granted, 99);  // 33.3 each: whole retries only
}

TEST(RetryBudgetTest, ZeroBudgetNeverRetries) {
  SimulatedTimeSource clock;
  RetryBudget budget(RetryBudgetConfig{0, 0, seconds(10), 10});
  for (int i = 0; i < 1000; ++i) budget.onRequest(clock.now());
  EXPECT_FALSE(budget.tryWithdraw(clock.now()));
}

TEST(RetryBudgetTest, ExplainReportsWindowAndTotals) {
  SimulatedTimeSource clock;
  RetryBudget budget(RetryBudgetConfig{0.2, 1, seconds(10), 10});
  for (int i = 0; i < 100; ++i) budget.onRequest(clock.now());
  for (int i = 0; i < 40; ++i) budget.tryWithdraw(clock.now());
  const RetryBudgetExplain e = budget.explain(clock.now());
  EXPECT_DOUBLE_EQ(e.ratio, 0.2);
  EXPECT_DOUBLE_EQ(e.min_per_second, 1);
  EXPECT_EQ(e.ttl, seconds(10));
  EXPECT_EQ(e.requests, 100u);
  EXPECT_EQ(e.retries, 30u);
  EXPECT_NEAR(e.available, 0.0, 1e-9);
  EXPECT_EQ(e.granted_total, 30u);
  EXPECT_EQ(e.refused_total, 10u);
}

TEST(RetryBudgetTest, NonsenseConfigIsSanitised) {
  SimulatedTimeSource clock;
  RetryBudget budget(RetryBudgetConfig{-1, -5, Duration::zero(), 0});
  EXPECT_DOUBLE_EQ(budget.config().ratio, 0);
  EXPECT_DOUBLE_EQ(budget.config().min_per_second, 0);
  EXPECT_GE(budget.config().ttl, milliseconds(1));
  EXPECT_EQ(budget.config().slots, 1u);
  budget.onRequest(clock.now());
  EXPECT_FALSE(budget.tryWithdraw(clock.now()));
}

}  // namespace
}  // namespace rampart::policy
