#include "policy/outlier_detector.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "tests/unit/policy/concurrency_sim.h"

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kStart = TimePoint{} + std::chrono::hours(1);

// Per-endpoint traffic shape for ClusterSim: success probability and latency.
struct EndpointShape {
  double success = 1.0;
  Duration latency = milliseconds(10);
};

// A cluster of endpoints receiving `rps_per_endpoint` each (ejected ones get
// nothing, as the balancer skips them), with evaluate() every second.
class ClusterSim {
 public:
  ClusterSim(OutlierConfig config, std::vector<EndpointShape> shapes, uint64_t seed = 1)
      : detector_(config, shapes.size()), shapes_(std::move(shapes)), rng_(seed) {}

  void setShape(size_t endpoint, EndpointShape shape) { shapes_[endpoint] = shape; }
  // Runs `secs` seconds of traffic; calls `each_second` after every evaluate().
  void run(int secs, int rps_per_endpoint, const std::function<void()>& each_second = nullptr) {
    detector_.evaluate(now_);  // the sweep timer starts with the traffic
    for (int s = 0; s < secs; ++s) {
      for (int r = 0; r < rps_per_endpoint; ++r) {
        now_ += Duration(seconds(1)) / rps_per_endpoint;
        for (size_t e = 0; e < shapes_.size(); ++e) {
          if (detector_.isEjected(e)) continue;
          const bool ok = rng_.uniform() < shapes_[e].success;
          // ±20% jitter around the endpoint's latency.
          const double f = 0.8 + 0.4 * rng_.uniform();
          detector_.onResult(e, now_, ok,
                             std::chrono::duration_cast<Duration>(shapes_[e].latency * f));
        }
      }
      detector_.evaluate(now_);
      if (each_second) each_second();
    }
  }
  OutlierDetector& detector() { return detector_; }
  TimePoint now() const { return now_; }

 private:
  OutlierDetector detector_;
  std::vector<EndpointShape> shapes_;
  sim::SimRandom rng_;
  TimePoint now_ = kStart;
};

// Records `n` results for one endpoint, 1 ms apart.
void feed(OutlierDetector& d, TimePoint& now, size_t endpoint, int n, bool success,
          Duration latency = milliseconds(10)) {
  for (int i = 0; i < n; ++i) {
    now += milliseconds(1);
    d.onResult(endpoint, now, success, latency);
  }
}

TEST(OutlierDetector, ConsecutiveFailuresEjectAtOnce) {
  OutlierDetector d({}, 3);
  TimePoint now = kStart;
  feed(d, now, 0, 4, false);
  feed(d, now, 0, 1, true);  // breaks the run
  feed(d, now, 0, 4, false);
  EXPECT_FALSE(d.isEjected(0));
  feed(d, now, 0, 1, false);  // fifth in a row: no evaluate() needed
  EXPECT_TRUE(d.isEjected(0));
  EXPECT_EQ(d.counters().ejected_consecutive_failures, 1u);
  const auto states = d.explain(now);
  EXPECT_EQ(states[0].reason, EjectionReason::ConsecutiveFailures);
  EXPECT_EQ(states[0].ejected_until, now + seconds(10));
  EXPECT_EQ(states[0].ejection_remaining, seconds(10));
  EXPECT_EQ(states[0].times_ejected, 1u);
  EXPECT_FALSE(d.isEjected(1));
}

TEST(OutlierDetector, MaxEjectedRounding) {
  auto cap = [](size_t n, uint32_t pct) {
    OutlierConfig c;
    c.max_ejection_percent = pct;
    return OutlierDetector(c, n).maxEjected();
  };
  EXPECT_EQ(cap(2, 50), 1u);   // ⌊1⌋
  EXPECT_EQ(cap(3, 50), 1u);   // ⌊1.5⌋
  EXPECT_EQ(cap(10, 50), 5u);  // ⌊5⌋
  EXPECT_EQ(cap(5, 10), 1u);   // ⌊0.5⌋ = 0, but at least one of >= 2 endpoints
  EXPECT_EQ(cap(1, 50), 0u);   // never the sole endpoint below 100%
  EXPECT_EQ(cap(1, 100), 1u);
  EXPECT_EQ(cap(10, 0), 0u);  // 0% disables ejection
}

TEST(OutlierDetector, SuccessRateOutlierInThreeEndpointCluster) {
  // 40% failures on one endpoint: rarely 5 in a row, above the 50% floor,
  // invisible to mean − 1.9σ over three hosts, but far below its two peers.
  OutlierConfig c;
  c.consecutive_failures = 0;
  ClusterSim s(c, {{0.6}, {1.0}, {1.0}});
  s.run(1, 40);
  EXPECT_TRUE(s.detector().isEjected(0));
  EXPECT_FALSE(s.detector().isEjected(1));
  EXPECT_FALSE(s.detector().isEjected(2));
  EXPECT_EQ(s.detector().counters().ejected_success_rate, 1u);
  const auto st = s.detector().explain(s.now());
  EXPECT_EQ(st[0].reason, EjectionReason::SuccessRate);
  EXPECT_EQ(st[0].window_requests, 40u);
  EXPECT_GT(st[0].window_success_rate, 0.5);
  EXPECT_LT(st[0].window_success_rate, 0.8);
  EXPECT_NEAR(st[0].success_rate_threshold, 0.9, 1e-9);  // peers (100%) − min_gap
  EXPECT_LT(st[0].success_rate_upper, st[0].success_rate_threshold);
  EXPECT_GT(st[0].success_rate_upper, st[0].window_success_rate);
}

TEST(OutlierDetector, TwoEndpointClusterUsesAbsoluteFloor) {
  {
    ClusterSim s({}, {{0.3}, {1.0}});
    // Failures come in runs here too; switch off the consecutive test to see the rate test.
    s.detector() = OutlierDetector({.consecutive_failures = 0}, 2);
    s.run(1, 40);
    EXPECT_TRUE(s.detector().isEjected(0));
    EXPECT_FALSE(s.detector().isEjected(1));
  }
  {
    // Both failing alike: a cluster-wide outage; ejecting one would only halve capacity.
    ClusterSim s({.consecutive_failures = 0}, {{0.3}, {0.3}});
    s.run(10, 40);
    EXPECT_EQ(s.detector().counters().ejected_success_rate, 0u);
  }
  {
    // 85% vs 100%: bad, but above the floor, and two endpoints are too few to compare.
    ClusterSim s({.consecutive_failures = 0}, {{0.85}, {1.0}});
    s.run(10, 40);
    EXPECT_EQ(s.detector().counters().ejected_success_rate, 0u);
  }
}

TEST(OutlierDetector, BackgroundErrorsDoNotCauseFalseEjections) {
  // Five healthy endpoints with 5% random errors and small windows, for ten
  // minutes: binomial noise alone must not eject anyone.
  ClusterSim s({}, {{0.95}, {0.95}, {0.95}, {0.95}, {0.95}}, 42);
  s.run(600, 25);
  const OutlierCounters& c = s.detector().counters();
  EXPECT_EQ(c.ejected_success_rate + c.ejected_latency, 0u);
  EXPECT_GE(c.windows_evaluated, 590u);
}

TEST(OutlierDetector, SlowEndpointIsEjectedByLatency) {
  ClusterSim s({}, {{1.0, milliseconds(10)},
                    {1.0, milliseconds(10)},
                    {1.0, milliseconds(10)},
                    {1.0, milliseconds(200)}});
  s.run(1, 30);
  EXPECT_TRUE(s.detector().isEjected(3));
  EXPECT_EQ(s.detector().ejectedCount(), 1u);
  EXPECT_EQ(s.detector().counters().ejected_latency, 1u);
  const auto st = s.detector().explain(s.now());
  EXPECT_EQ(st[3].reason, EjectionReason::Latency);
  EXPECT_GT(st[3].window_p90, milliseconds(150));
  EXPECT_NEAR(toMillis(st[3].latency_threshold), 3 * 11.5, 3.0);  // 3 × peers' p90
  EXPECT_LT(st[0].window_p90, st[0].latency_threshold);
}

TEST(OutlierDetector, SlowEndpointInTwoEndpointCluster) {
  ClusterSim s({}, {{1.0, milliseconds(10)}, {1.0, milliseconds(200)}});
  s.run(1, 30);
  EXPECT_TRUE(s.detector().isEjected(1));
  EXPECT_FALSE(s.detector().isEjected(0));
}

TEST(OutlierDetector, UniformSlowdownEjectsNobody) {
  ClusterSim s({}, {{}, {}, {}, {}});
  s.run(5, 30);
  // Every endpoint becomes 20× slower in the middle of a window.
  for (size_t e = 0; e < 4; ++e) s.setShape(e, {1.0, milliseconds(200)});
  s.run(30, 30);
  EXPECT_EQ(s.detector().ejectedCount(), 0u);
  EXPECT_EQ(s.detector().counters().ejected_latency, 0u);
}

TEST(OutlierDetector, SmallAbsoluteLatencyDifferencesAreIgnored) {
  // 0.2 ms vs 0.9 ms: 4.5× but under latency_min_excess (2 ms): not worth an ejection.
  ClusterSim s({}, {{1.0, std::chrono::microseconds(200)},
                    {1.0, std::chrono::microseconds(200)},
                    {1.0, std::chrono::microseconds(900)}});
  s.run(10, 30);
  EXPECT_EQ(s.detector().counters().ejected_latency, 0u);
}

TEST(OutlierDetector, NeverEjectsMoreThanTheCap) {
  OutlierDetector d({}, 4);  // 50% of 4 = 2
  TimePoint now = kStart;
  for (size_t e = 0; e < 3; ++e) feed(d, now, e, 5, false);
  EXPECT_EQ(d.ejectedCount(), 2u);
  EXPECT_TRUE(d.isEjected(0));
  EXPECT_TRUE(d.isEjected(1));
  EXPECT_FALSE(d.isEjected(2));
  EXPECT_GE(d.counters().skipped_by_cap, 1u);
  // When a slot frees, the refused endpoint (still failing in a row) takes it.
  now += seconds(10);
  d.evaluate(now);
  EXPECT_TRUE(d.isEjected(2));
  EXPECT_EQ(d.ejectedCount(), 1u);
}

TEST(OutlierDetector, CapPrefersTheWorstCandidates) {
  // Three bad endpoints of six, cap 2 (33%): the two worst success rates go.
  OutlierConfig c;
  c.max_ejection_percent = 34;
  c.consecutive_failures = 0;
  ClusterSim s(c, {{0.2}, {0.6}, {0.4}, {1.0}, {1.0}, {1.0}});
  s.run(1, 50);
  EXPECT_EQ(s.detector().ejectedCount(), 2u);
  EXPECT_TRUE(s.detector().isEjected(0));
  EXPECT_TRUE(s.detector().isEjected(2));
  EXPECT_FALSE(s.detector().isEjected(1));
}

TEST(OutlierDetector, EjectionGrowsOnRepeatAndIsCapped) {
  OutlierConfig c;
  c.base_ejection = seconds(10);
  c.max_ejection = seconds(25);
  OutlierDetector d(c, 3);
  TimePoint now = kStart;
  feed(d, now, 0, 5, false);
  std::vector<Duration> lengths{d.explain(now)[0].ejected_until - now};
  for (int i = 0; i < 3; ++i) {
    now = d.explain(now)[0].ejected_until;
    d.evaluate(now);  // expires: back on probation
    ASSERT_FALSE(d.isEjected(0));
    ASSERT_TRUE(d.explain(now)[0].on_probation);
    feed(d, now, 0, 1, false);  // one failure on probation re-ejects
    ASSERT_TRUE(d.isEjected(0));
    lengths.push_back(d.explain(now)[0].ejected_until - now);
  }
  EXPECT_EQ(lengths, (std::vector<Duration>{seconds(10), seconds(20), seconds(25), seconds(25)}));
  EXPECT_EQ(d.explain(now)[0].times_ejected, 4u);
  EXPECT_EQ(d.explain(now)[0].reason, EjectionReason::ProbationFailure);
  EXPECT_EQ(d.counters().ejected_probation_failure, 3u);
}

TEST(OutlierDetector, RecoveredEndpointReturnsAndForgetsItsHistoryGradually) {
  OutlierDetector d({}, 3);
  TimePoint now = kStart;
  // Ejected twice: the multiplier is 2.
  feed(d, now, 0, 5, false);
  now += seconds(10);
  d.evaluate(now);
  feed(d, now, 0, 1, false);
  ASSERT_EQ(d.explain(now)[0].times_ejected, 2u);
  now += seconds(20);
  d.evaluate(now);
  EXPECT_FALSE(d.isEjected(0));
  EXPECT_EQ(d.counters().returned, 2u);
  // It now serves well: probation ends after 10 s, then one step is forgotten per period.
  for (int s = 0; s < 10; ++s) {
    feed(d, now, 0, 10, true);
    now += seconds(1) - milliseconds(10);
    d.evaluate(now);
  }
  auto st = d.explain(now)[0];
  EXPECT_FALSE(st.on_probation);
  EXPECT_EQ(st.times_ejected, 1u);
  EXPECT_EQ(d.counters().probation_passed, 1u);
  for (int s = 0; s < 10; ++s) {
    feed(d, now, 0, 10, true);
    now += seconds(1) - milliseconds(10);
    d.evaluate(now);
  }
  EXPECT_EQ(d.explain(now)[0].times_ejected, 0u);
  // Off probation, a single failure no longer ejects; the next ejection is short again.
  feed(d, now, 0, 1, false);
  EXPECT_FALSE(d.isEjected(0));
  feed(d, now, 0, 4, false);
  EXPECT_TRUE(d.isEjected(0));
  EXPECT_EQ(d.explain(now)[0].ejected_until - now, seconds(10));
}

TEST(OutlierDetector, ProbationNeedsAtLeastOneSuccess) {
  OutlierDetector d({}, 3);
  TimePoint now = kStart;
  feed(d, now, 0, 5, false);
  now += seconds(10);
  d.evaluate(now);
  now += seconds(30);  // no traffic at all during probation
  d.evaluate(now);
  EXPECT_TRUE(d.explain(now)[0].on_probation);
  feed(d, now, 0, 1, true);
  now += seconds(1);
  d.evaluate(now);
  EXPECT_FALSE(d.explain(now)[0].on_probation);
}

TEST(OutlierDetector, IntermittentlyBadEndpointIsReejectedFasterEachTime) {
  // An endpoint failing half its requests keeps coming back: each return costs
  // one request (probation), not another five-failure run (envoy#40697).
  ClusterSim s({}, {{0.5}, {1.0}, {1.0}, {1.0}});
  int ejected_seconds = 0;
  s.run(300, 20, [&] { ejected_seconds += s.detector().isEjected(0) ? 1 : 0; });
  EXPECT_GT(ejected_seconds, 280);
  EXPECT_FALSE(s.detector().isEjected(1));
  EXPECT_EQ(s.detector().explain(s.now())[0].times_ejected,
            s.detector().counters().ejected_consecutive_failures +
                s.detector().counters().ejected_success_rate +
                s.detector().counters().ejected_probation_failure);
}

TEST(OutlierDetector, QuietEndpointCannotHoldTheWindowOpenForever) {
  OutlierDetector d({}, 3);
  TimePoint now = kStart;
  d.evaluate(now);
  for (int s = 1; s <= 10; ++s) {
    feed(d, now, 0, 30, true);
    feed(d, now, 1, 30, true);
    feed(d, now, 2, 1, true);  // 1 request per second: never reaches min_requests
    now = kStart + seconds(s);
    d.evaluate(now);
    EXPECT_EQ(d.counters().windows_evaluated, s < 10 ? 0u : 1u) << s;
  }
}

TEST(OutlierDetector, LateResultsFromEjectedEndpointsAreIgnored) {
  OutlierDetector d({}, 3);
  TimePoint now = kStart;
  feed(d, now, 0, 5, false);
  ASSERT_TRUE(d.isEjected(0));
  feed(d, now, 0, 20, false);  // responses still in flight when it was ejected
  EXPECT_EQ(d.explain(now)[0].current_requests, 5u);
  EXPECT_EQ(d.counters().ejected_consecutive_failures, 1u);
  EXPECT_EQ(d.counters().skipped_by_cap, 0u);
}

}  // namespace
}  // namespace rampart::policy
