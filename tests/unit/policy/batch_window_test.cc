#include "policy/batch_window.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "policy/batch_simulation.h"

namespace rampart::policy {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kStart = TimePoint{} + std::chrono::hours(1);

BatchWindowConfig routeConfig() {
  BatchWindowConfig c;
  c.slo = milliseconds(100);
  c.max_batch_size = 64;
  return c;
}

// Teaches the controller the simulated GPU's curve: 8 ms + 0.25 ms per row.
void teach(BatchWindowController& c, int batches = 200) {
  for (int i = 0; i < batches; ++i) {
    std::size_t n = 1 + static_cast<std::size_t>(i * 7 % 64);
    c.onBatchComplete(n, microseconds(8000 + 250 * static_cast<int>(n)));
  }
}

// Feeds arrivals at `rate_per_s` for `span`, evenly spaced; returns the end time.
TimePoint arrive(BatchWindowController& c, TimePoint from, double rate_per_s, Duration span) {
  const Duration gap = fromSeconds(1.0 / rate_per_s);
  TimePoint t = from;
  for (; t < from + span; t += gap) c.onArrival(t, 1);
  return t;
}

const Dispatch* asDispatch(const BatchDecision& d) {
  return std::get_if<Dispatch>(&d);
}
const WaitUntil* asWait(const BatchDecision& d) {
  return std::get_if<WaitUntil>(&d);
}

TEST(BatchWindowController, IdleBackendAtLowLoadDispatchesAtOnce) {
  BatchWindowController c(routeConfig());
  teach(c);
  TimePoint now = arrive(c, kStart, 20, seconds(2));  // 20 rows/s: far below capacity
  auto d = c.decide(now, {.rows = 1, .oldest_arrival = now}, {.in_flight = 0, .capacity = 2});
  ASSERT_TRUE(asDispatch(d));
  EXPECT_EQ(asDispatch(d)->rows, 1u);
  EXPECT_EQ(asDispatch(d)->reason, DispatchReason::BackendIdle);
  EXPECT_EQ(c.explain(now).target_batch_size, 1u);
  EXPECT_EQ(c.explain(now).window, Duration::zero());
}

TEST(BatchWindowController, BusyBackendHoldsTheBatchSoItGrows) {
  BatchWindowController c(routeConfig());
  teach(c);
  TimePoint now = arrive(c, kStart, 20, seconds(2));
  auto d = c.decide(now, {.rows = 5, .oldest_arrival = now - milliseconds(3)},
                    {.in_flight = 2, .capacity = 2});
  ASSERT_TRUE(asWait(d));
  EXPECT_EQ(asWait(d)->at, TimePoint::max());
  // ...until a slot frees.
  d = c.decide(now, {.rows = 5, .oldest_arrival = now - milliseconds(3)},
               {.in_flight = 1, .capacity = 2});
  ASSERT_TRUE(asDispatch(d));
  EXPECT_EQ(asDispatch(d)->rows, 5u);
}

TEST(BatchWindowController, HighRateWaitsForALargerBatchWithinTheSlo) {
  BatchWindowController c(routeConfig());
  teach(c);
  TimePoint now = arrive(c, kStart, 4000, seconds(2));
  auto d = c.decide(now, {.rows = 3, .oldest_arrival = now}, {.in_flight = 0, .capacity = 2});
  auto e = c.explain(now);  // after a decide: it knows the backend has two slots
  EXPECT_NEAR(e.arrival_rate_per_s, 4000, 200);
  // Keeping up with 1.1 × 4000/s on two 8 ms + 0.25 ms/row GPUs takes ~40-row batches.
  EXPECT_GE(e.target_batch_size, 34u);
  EXPECT_LE(e.target_batch_size, 46u);
  // ...which take ~10 ms to gather at 4000/s.
  EXPECT_GT(e.window, milliseconds(7));
  EXPECT_LT(e.window, milliseconds(13));
  ASSERT_TRUE(asWait(d));
  EXPECT_EQ(asWait(d)->at, now + e.window);
  // When the window runs out the batch goes with what it has.
  d = c.decide(now + e.window, {.rows = 20, .oldest_arrival = now},
               {.in_flight = 0, .capacity = 2});
  ASSERT_TRUE(asDispatch(d));
  EXPECT_EQ(asDispatch(d)->reason, DispatchReason::WindowExpired);
}

TEST(BatchWindowController, FullBatchGoesAtOnce) {
  BatchWindowController c(routeConfig());
  teach(c);
  TimePoint now = arrive(c, kStart, 4000, seconds(1));
  auto d = c.decide(now, {.rows = 80, .oldest_arrival = now}, {.in_flight = 1, .capacity = 2});
  ASSERT_TRUE(asDispatch(d));
  EXPECT_EQ(asDispatch(d)->rows, 64u);
  EXPECT_EQ(asDispatch(d)->reason, DispatchReason::Full);
}

TEST(BatchWindowController, CapShrinksWhenTheBackendIsTooSlowForTheSlo) {
  BatchWindowConfig cfg = routeConfig();
  cfg.slo = milliseconds(40);  // T99(n) <= 20 ms  =>  n <= 48 (less a little for σ)
  BatchWindowController c(cfg);
  teach(c);
  EXPECT_LE(c.explain(kStart).max_batch_size, 48u);
  EXPECT_GE(c.explain(kStart).max_batch_size, 45u);
  BatchWindowConfig tight = routeConfig();
  tight.slo = milliseconds(10);  // not even one row fits in S/2: still sends one at a time
  BatchWindowController t(tight);
  teach(t);
  EXPECT_EQ(t.explain(kStart).max_batch_size, 1u);
}

TEST(BatchWindowController, DeadlineForcesAnEarlyDispatch) {
  BatchWindowController c(routeConfig());
  teach(c);
  TimePoint now = arrive(c, kStart, 4000, seconds(1));
  // 10 rows would wait for ~40; a caller's deadline is 14 ms away and a 10-row
  // batch takes 10.5 ms, so it has 3.5 ms of slack.
  PendingBucket b{.rows = 10, .oldest_arrival = now, .earliest_deadline = now + milliseconds(14)};
  auto d = c.decide(now, b, {.in_flight = 0, .capacity = 2});
  ASSERT_TRUE(asWait(d));
  EXPECT_NEAR(toMillis(asWait(d)->at - now), 3.5, 0.2);
  d = c.decide(asWait(d)->at, b, {.in_flight = 0, .capacity = 2});
  ASSERT_TRUE(asDispatch(d));
  EXPECT_EQ(asDispatch(d)->reason, DispatchReason::Deadline);
}

TEST(BatchWindowController, RefusesRequestsThatCannotMeetTheirDeadline) {
  BatchWindowController c(routeConfig());
  teach(c);  // T(1) ≈ 8.25 ms
  TimePoint now = kStart;
  EXPECT_FALSE(c.admissible(now, now + milliseconds(5)));
  EXPECT_TRUE(c.admissible(now, now + milliseconds(10)));
  EXPECT_FALSE(c.admissible(now, now - milliseconds(1)));
  // Behind a busy backend with a queue of two batches per endpoint (~18 ms each),
  // 20 ms is no longer enough.
  BackendLoad busy{.in_flight = 6, .capacity = 2};
  EXPECT_TRUE(c.admissible(now, now + milliseconds(20)));
  c.decide(now, {.rows = 40, .oldest_arrival = now - seconds(1)}, {.in_flight = 0, .capacity = 2});
  EXPECT_FALSE(c.admissible(now, now + milliseconds(20), busy));
  EXPECT_TRUE(c.admissible(now, now + milliseconds(80), busy));
}

TEST(BatchWindowController, FixedMaxDelayBoundsTheWindow) {
  BatchWindowConfig cfg = routeConfig();
  cfg.max_delay = milliseconds(2);
  BatchWindowController c(cfg);
  teach(c);
  TimePoint now = arrive(c, kStart, 4000, seconds(1));
  auto d = c.decide(now, {.rows = 3, .oldest_arrival = now}, {.in_flight = 0, .capacity = 2});
  EXPECT_EQ(c.explain(now).window, milliseconds(2));
  ASSERT_TRUE(asWait(d));
  EXPECT_EQ(asWait(d)->at, now + milliseconds(2));
}

TEST(BatchWindowController, ExplainCountsDispatchesByReason) {
  BatchWindowController c(routeConfig());
  teach(c);
  TimePoint now = kStart;
  c.decide(now, {.rows = 1, .oldest_arrival = now}, {.in_flight = 0, .capacity = 1});
  c.decide(now, {.rows = 100, .oldest_arrival = now}, {.in_flight = 0, .capacity = 1});
  c.decide(now, {.rows = 2, .oldest_arrival = now - milliseconds(95)},
           {.in_flight = 0, .capacity = 1});
  auto e = c.explain(now);
  EXPECT_EQ(e.dispatches[static_cast<int>(DispatchReason::BackendIdle)], 1u);
  EXPECT_EQ(e.dispatches[static_cast<int>(DispatchReason::Full)], 1u);
  EXPECT_EQ(e.dispatches[static_cast<int>(DispatchReason::Deadline)], 1u);
  EXPECT_EQ(e.dispatches[static_cast<int>(DispatchReason::WindowExpired)], 0u);
  EXPECT_NEAR(toMillis(e.cost.fixed), 8.0, 0.1);
  EXPECT_NEAR(toMillis(e.cost.per_item), 0.25, 0.01);
}

// ---- The simulation: controller against a sweep of static settings -------------

batchsim::Scenario scenario(double rate, std::uint64_t seed = 42) {
  batchsim::Scenario s;
  s.rate_per_s = rate;
  s.duration = seconds(10);
  s.seed = seed;
  s.slo = milliseconds(100);
  return s;  // GPU: 8 ms + 0.25 ms × n, one batch at a time, two endpoints
}

batchsim::ScenarioResult runController(const batchsim::Scenario& s) {
  BatchWindowController c(routeConfig());  // starts from the prior: learns on the way
  batchsim::ControllerPolicy p(c);
  return batchsim::run(s, p);
}

std::string show(const batchsim::ScenarioResult& r) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "goodput %.0f/s p50 %.1f ms p99 %.1f ms batch %.1f",
                r.goodput_per_s, toMillis(r.p50), toMillis(r.p99), r.mean_batch);
  return buf;
}

TEST(BatchWindowSimulation, BeatsOrMatchesEveryStaticSettingAtEveryRate) {
  for (double rate : {50.0, 1000.0, 4500.0}) {
    batchsim::Scenario s = scenario(rate);
    auto learned = runController(s);
    double best = 0;
    std::string best_name;
    for (std::size_t max_batch : {4, 8, 16, 32, 64}) {
      for (int delay_ms : {1, 2, 5, 10, 20}) {
        batchsim::StaticPolicy p(max_batch, milliseconds(delay_ms));
        auto r = batchsim::run(s, p);
        if (r.goodput_per_s > best) {
          best = r.goodput_per_s;
          best_name = std::to_string(max_batch) + "x" + std::to_string(delay_ms) + "ms " + show(r);
        }
      }
    }
    std::printf("rate %5.0f: learned %s | best static %s\n", rate, show(learned).c_str(),
                best_name.c_str());
    EXPECT_GE(learned.goodput_per_s, 0.95 * best) << "rate " << rate;
    EXPECT_LE(learned.p99, milliseconds(100)) << "rate " << rate;
  }
}

TEST(BatchWindowSimulation, OverloadWithAdmissionKeepsGoodputNearCapacity) {
  // 7000 rows/s against ~5300/s of capacity (64-row batches on two endpoints).
  batchsim::Scenario s = scenario(7000, 5);
  double best_static = 0;
  for (std::size_t max_batch : {16, 32, 64}) {
    for (int delay_ms : {1, 5, 20}) {
      batchsim::StaticPolicy p(max_batch, milliseconds(delay_ms));
      best_static = std::max(best_static, batchsim::run(s, p).goodput_per_s);
    }
  }
  s.admission = true;
  auto learned = runController(s);
  std::printf("overload: learned with admission %s, rejected %zu of %zu | best static %.0f/s\n",
              show(learned).c_str(), learned.rejected, learned.arrived, best_static);
  EXPECT_GT(learned.goodput_per_s, 0.85 * 5333);
  EXPECT_GT(learned.goodput_per_s, 3 * best_static);  // static queues grow without bound
  EXPECT_GT(learned.rejected, learned.arrived / 10);
  EXPECT_LE(learned.p99, milliseconds(110));
}

TEST(BatchWindowSimulation, AddsAlmostNothingToUnbatchedLatencyAtLowRate) {
  batchsim::Scenario s = scenario(50, 7);
  s.duration = seconds(20);
  batchsim::StaticPolicy unbatched(1, Duration::zero());
  auto base = batchsim::run(s, unbatched);
  auto learned = runController(s);
  std::printf("low rate: unbatched %s | learned %s\n", show(base).c_str(), show(learned).c_str());
  EXPECT_LE(toMillis(learned.p50), 1.10 * toMillis(base.p50));
  EXPECT_LT(learned.mean_batch, 1.2);
}

TEST(BatchWindowSimulation, HighLoadUsesLargerBatchesAndStaysInsideTheSlo) {
  auto low = runController(scenario(200));
  auto high = runController(scenario(4500));
  EXPECT_LT(low.mean_batch, 2.0);
  EXPECT_GT(high.mean_batch, 20.0);
  EXPECT_LE(high.p99, milliseconds(100));
  EXPECT_EQ(high.completed, high.arrived);
}

TEST(BatchWindowSimulation, FollowsADoublingOfPerItemCostWithinAFewSeconds) {
  batchsim::Scenario s = scenario(2000, 9);
  s.duration = seconds(8);
  s.gpu.jitter = 0.05;
  s.gpu.change_at = kStart + seconds(4);
  s.gpu.per_item_after = microseconds(500);
  BatchWindowController c(routeConfig());
  batchsim::ControllerPolicy p(c);
  // Run to the change plus three seconds, then read what the controller learned.
  batchsim::Scenario until = s;
  until.duration = seconds(7);
  auto r = batchsim::run(until, p);
  auto e = c.explain(kStart + seconds(7));
  std::printf("after cost change: a %.2f ms b %.3f ms, %s\n", toMillis(e.cost.fixed),
              toMillis(e.cost.per_item), show(r).c_str());
  EXPECT_NEAR(toMillis(e.cost.per_item), 0.5, 0.05);
  EXPECT_NEAR(toMillis(e.cost.fixed), 8.0, 1.0);
  EXPECT_LE(r.p99, milliseconds(100));
}

}  // namespace
}  // namespace rampart::policy
