#include "policy/concurrency_limit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>

#include "tests/unit/policy/concurrency_sim.h"

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A route limited by AdaptiveConcurrencyLimit in front of a simulated backend:
// admit while inflight < limit, else refuse.
class LimitSim {
 public:
  LimitSim(ConcurrencyLimitConfig config, uint32_t servers, Duration service, uint64_t seed = 7)
      : limit_(config), backend_(servers, service, 0.2, seed), rng_(seed * 31 + 1) {}

  // `clients` users that send, wait for the answer (or `backoff` after a refusal), repeat.
  void startClosedLoop(int clients, Duration backoff) {
    for (int i = 0; i < clients; ++i) {
      loop_.after(Duration(i), [this, backoff] { closedLoopClient(backoff); });
    }
  }
  // Poisson arrivals at `rps` (changeable with setRate), each tried once.
  void startOpenLoop(double rps) {
    rate_ = rps;
    loop_.after(Duration::zero(), [this] { arrival(); });
  }
  void setRate(double rps) { rate_ = rps; }
  // Each request's work multiplier is drawn from this (default 1).
  void setCost(std::function<double(sim::SimRandom&)> cost) { cost_ = std::move(cost); }
  // Records limit() and noLoadRtt() every `period`.
  void sampleEvery(Duration period) {
    loop_.after(period, [this, period] {
      limits_.push_back(limit_.limit());
      no_load_ms_.push_back(toMillis(limit_.noLoadRtt()));
      sampleEvery(period);
    });
  }
  void runFor(Duration d) { loop_.runFor(d); }

  sim::Backend& backend() { return backend_; }
  const AdaptiveConcurrencyLimit& limit() const { return limit_; }
  uint64_t rejected() const { return rejected_; }
  uint64_t completed() const { return completed_; }
  uint32_t inflight() const { return inflight_; }
  const std::vector<double>& limits() const { return limits_; }
  const std::vector<double>& noLoadMs() const { return no_load_ms_; }
  std::vector<double>& rttsMs() { return rtts_ms_; }

 private:
  bool tryStart(std::function<void()> done) {
    if (inflight_ >= limit_.limit()) {
      rejected_++;
      return false;
    }
    const uint32_t at_start = inflight_++;
    const TimePoint start = loop_.now();
    const TimePoint finish = backend_.submit(start, cost_ ? cost_(rng_) : 1.0);
    loop_.at(finish, [this, start, at_start, done = std::move(done)] {
      inflight_--;
      completed_++;
      const Duration rtt = loop_.now() - start;
      rtts_ms_.push_back(toMillis(rtt));
      limit_.onSample(loop_.now(), rtt, at_start, false);
      if (done) done();
    });
    return true;
  }
  void closedLoopClient(Duration backoff) {
    if (!tryStart([this, backoff] { closedLoopClient(backoff); })) {
      loop_.after(backoff, [this, backoff] { closedLoopClient(backoff); });
    }
  }
  void arrival() {
    if (rate_ <= 0) return;
    tryStart(nullptr);
    loop_.after(rng_.exponential(fromSeconds(1.0 / rate_)), [this] { arrival(); });
  }

  sim::EventLoop loop_;
  AdaptiveConcurrencyLimit limit_;
  sim::Backend backend_;
  sim::SimRandom rng_;
  std::function<double(sim::SimRandom&)> cost_;
  double rate_ = 0;
  uint32_t inflight_ = 0;
  uint64_t rejected_ = 0;
  uint64_t completed_ = 0;
  std::vector<double> limits_;
  std::vector<double> no_load_ms_;
  std::vector<double> rtts_ms_;
};

// Samples [from, to) of a trajectory sampled every `period_ms`, by time in seconds.
std::vector<double> slice(const std::vector<double>& v, double from_s, double to_s,
                          double period_s = 0.25) {
  const auto a = static_cast<size_t>(from_s / period_s);
  const auto b = std::min(v.size(), static_cast<size_t>(to_s / period_s));
  return {v.begin() + static_cast<ptrdiff_t>(a), v.begin() + static_cast<ptrdiff_t>(b)};
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Seconds from `from_s` until the trajectory first satisfies `pred`; -1 if never.
double secondsUntil(const std::vector<double>& v, double from_s,
                    const std::function<bool(double)>& pred, double period_s = 0.25) {
  for (size_t i = static_cast<size_t>(from_s / period_s); i < v.size(); ++i) {
    if (pred(v[i])) return static_cast<double>(i + 1) * period_s - from_s;
  }
  return -1;
}

constexpr uint32_t kServers = 16;
const Duration kService = milliseconds(10);
// Saturated throughput of the simulated backend, requests per second.
constexpr double kCapacityRps = kServers / 0.010;

TEST(AdaptiveConcurrencyLimit, StartsAtInitialLimitWithinBounds) {
  EXPECT_EQ(AdaptiveConcurrencyLimit(ConcurrencyLimitConfig{}).limit(), 32u);
  ConcurrencyLimitConfig c;
  c.initial_limit = 5000;
  EXPECT_EQ(AdaptiveConcurrencyLimit(c).limit(), c.max_limit);
  c.initial_limit = 0;
  c.min_limit = 0;  // sanitised to 1: admission can never lock up
  EXPECT_EQ(AdaptiveConcurrencyLimit(c).limit(), 1u);
  EXPECT_EQ(AdaptiveConcurrencyLimit(ConcurrencyLimitConfig{}).noLoadRtt(), Duration::zero());
}

TEST(AdaptiveConcurrencyLimit, SteadyClosedLoopConvergesIntoNarrowBand) {
  LimitSim s({}, kServers, kService);
  s.startClosedLoop(50, milliseconds(5));
  s.sampleEvery(milliseconds(250));
  s.runFor(seconds(10));
  const uint64_t completed_before = s.completed();
  s.rttsMs().clear();
  s.runFor(seconds(50));

  const auto band = slice(s.limits(), 10, 60);
  const auto [mean, stdev] = sim::meanStdev(band);
  // Expected fixed point: tolerance·C + √limit ≈ 24 + 5.4.
  EXPECT_GT(mean, 1.4 * kServers);
  EXPECT_LT(mean, 2.2 * kServers);
  EXPECT_LT(stdev, 0.05 * mean);  // no oscillation
  const auto [lo, hi] = std::minmax_element(band.begin(), band.end());
  EXPECT_LE(*hi - *lo, 0.15 * mean);
  // It keeps the backend busy (throughput) without letting the queue grow (RTT).
  const double rps = static_cast<double>(s.completed() - completed_before) / 50.0;
  EXPECT_GT(rps, 0.97 * kCapacityRps);
  EXPECT_LT(median(s.rttsMs()), 1.5 * 1.3 * 10.0);
  // No-load estimate stays at the true service time under sustained load.
  EXPECT_NEAR(toMillis(s.limit().noLoadRtt()), 10.0, 1.0);
}

TEST(AdaptiveConcurrencyLimit, SteadyOpenLoopOverloadConvergesIntoNarrowBand) {
  LimitSim s({}, kServers, kService);
  s.startOpenLoop(2.0 * kCapacityRps);
  s.sampleEvery(milliseconds(250));
  s.runFor(seconds(60));
  const auto band = slice(s.limits(), 10, 60);
  const auto [mean, stdev] = sim::meanStdev(band);
  EXPECT_GT(mean, 1.4 * kServers);
  EXPECT_LT(mean, 2.2 * kServers);
  EXPECT_LT(stdev, 0.05 * mean);
  // About half the offered load must be refused, and no more.
  const double served = static_cast<double>(s.completed()) / 60.0;
  EXPECT_GT(served, 0.95 * kCapacityRps);
}

TEST(AdaptiveConcurrencyLimit, FallsWithinSecondsWhenBackendSlowsAndRecovers) {
  LimitSim s({}, kServers, kService);
  s.startClosedLoop(50, milliseconds(5));
  s.sampleEvery(milliseconds(250));
  s.runFor(seconds(30));
  const double steady = sim::meanStdev(slice(s.limits(), 10, 30)).first;
  s.backend().setService(5 * kService);
  s.runFor(seconds(60));
  s.backend().setService(kService);
  s.runFor(seconds(30));

  const double fall = secondsUntil(s.limits(), 30, [&](double l) { return l <= 0.6 * steady; });
  EXPECT_GE(fall, 0);
  EXPECT_LE(fall, 3.0);
  // The slow backend has the same parallelism: the limit is not pinned to the
  // floor, and once it stopped shrinking it never falls to the floor.
  const auto slow_tail = slice(s.limits(), 50, 90);
  EXPECT_GT(*std::min_element(slow_tail.begin(), slow_tail.end()), 2.0 * 4);
  const double recover = secondsUntil(s.limits(), 90, [&](double l) { return l >= 0.9 * steady; });
  EXPECT_GE(recover, 0);
  EXPECT_LE(recover, 8.0);
  const auto after = slice(s.limits(), 105, 120);
  EXPECT_NEAR(sim::meanStdev(after).first, steady, 0.1 * steady);
}

TEST(AdaptiveConcurrencyLimit, NoLoadEstimateRisesWhenBackendIsGenuinelySlower) {
  LimitSim s({}, kServers, kService);
  s.startClosedLoop(50, milliseconds(5));
  s.sampleEvery(milliseconds(250));
  s.runFor(seconds(30));
  const double before = toMillis(s.limit().noLoadRtt());
  s.backend().setService(5 * kService);
  s.runFor(seconds(30));
  const double after = toMillis(s.limit().noLoadRtt());
  EXPECT_GT(after, 2.0 * before);
  // ... but it never overshoots the new true service time.
  EXPECT_LT(after, 50.0 * 1.1);
}

TEST(AdaptiveConcurrencyLimit, NoCreepUnderSustainedSaturation) {
  LimitSim s({}, kServers, kService);
  s.startClosedLoop(50, milliseconds(5));
  s.sampleEvery(milliseconds(250));
  s.runFor(seconds(180));
  const double early = sim::meanStdev(slice(s.limits(), 10, 30)).first;
  const double late = sim::meanStdev(slice(s.limits(), 160, 180)).first;
  EXPECT_NEAR(late, early, 0.05 * early);
  const auto& nl = s.noLoadMs();
  const auto [lo, hi] = std::minmax_element(nl.begin() + 40, nl.end());
  EXPECT_LT(*hi, 10.0 * 1.1);
  EXPECT_GT(*lo, 10.0 * 0.85);
}

TEST(AdaptiveConcurrencyLimit, NoSheddingWhileNoLoadRttIsReestimated) {
  // 40% load while the backend's speed drifts ±30% over a minute: Envoy would
  // pin the limit for a minRTT probe on every interval; this must refuse nothing.
  LimitSim s({}, kServers, kService);
  s.startOpenLoop(0.4 * kCapacityRps);
  s.sampleEvery(milliseconds(250));
  for (int step = 0; step < 300; ++step) {
    const double factor = 1.0 + 0.3 * std::sin(2.0 * std::numbers::pi * step / 60.0);
    s.backend().setService(std::chrono::duration_cast<Duration>(kService * factor));
    s.runFor(seconds(1));
  }
  EXPECT_EQ(s.rejected(), 0u);
  EXPECT_GT(s.completed(), 0.39 * kCapacityRps * 300);
  // The estimate followed the drift up as well as down.
  const auto& nl = s.noLoadMs();
  const auto [lo, hi] = std::minmax_element(nl.begin() + 40, nl.end());
  EXPECT_LT(*lo, 8.5);
  EXPECT_GT(*hi, 11.0);
}

TEST(AdaptiveConcurrencyLimit, VariableCostRequestsDoNotLockUpAdmission) {
  // 90% cheap requests, 10% costing 20× (long generations); 50% of capacity.
  LimitSim s({}, kServers, kService);
  s.setCost([](sim::SimRandom& r) { return r.uniform() < 0.1 ? 20.0 : 1.0; });
  const double mean_cost = 0.9 + 0.1 * 20.0;
  s.startOpenLoop(0.5 * kCapacityRps / mean_cost);
  s.sampleEvery(milliseconds(250));
  s.runFor(seconds(120));
  const auto tail = slice(s.limits(), 10, 120);
  EXPECT_GE(*std::min_element(tail.begin(), tail.end()), static_cast<double>(kServers));
  const double offered = 0.5 * kCapacityRps / mean_cost * 120;
  EXPECT_LT(static_cast<double>(s.rejected()), 0.01 * offered);
}

TEST(AdaptiveConcurrencyLimit, StaysWithinMinAndMaxLimit) {
  ConcurrencyLimitConfig c;
  c.max_limit = 20;
  {
    LimitSim s(c, 100, kService);  // could take 150 concurrent: capped at 20
    s.startClosedLoop(60, milliseconds(5));
    s.sampleEvery(milliseconds(250));
    s.runFor(seconds(30));
    const auto& l = s.limits();
    EXPECT_EQ(*std::max_element(l.begin(), l.end()), 20.0);
    EXPECT_EQ(l.back(), 20.0);
  }
  {
    // A backend queueing so badly that the RTT is 10× the no-load RTT per request
    // in flight, at every concurrency: the limit sinks to the floor and stays.
    AdaptiveConcurrencyLimit limit{ConcurrencyLimitConfig{}};
    TimePoint now{};
    for (int i = 0; i < 40; ++i) {
      now += milliseconds(10);
      limit.onSample(now, milliseconds(10), 0, false);
    }
    for (int i = 0; i < 20000; ++i) {
      now += milliseconds(5);
      const uint32_t inflight = limit.limit();
      limit.onSample(now, milliseconds(100) * inflight, inflight - 1, false);
      ASSERT_GE(limit.limit(), 4u);
    }
    EXPECT_EQ(limit.limit(), 4u);
  }
}

TEST(AdaptiveConcurrencyLimit, DropsBackOffMultiplicatively) {
  AdaptiveConcurrencyLimit limit{ConcurrencyLimitConfig{}};
  TimePoint now{};
  // One window of healthy samples establishes the no-load RTT.
  for (int i = 0; i < 40; ++i) {
    now += milliseconds(10);
    limit.onSample(now, milliseconds(10), 10, false);
  }
  const uint32_t before = limit.limit();
  // Two windows with 20% timeouts: each multiplies the limit by drop_backoff.
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < 30; ++i) {
      now += milliseconds(10);
      limit.onSample(now, i % 5 == 0 ? seconds(2) : milliseconds(10), 30, i % 5 == 0);
    }
  }
  EXPECT_LE(limit.limit(), static_cast<uint32_t>(std::ceil(before * 0.9 * 0.9)) + 1);
  EXPECT_TRUE(limit.explain().backed_off);
  EXPECT_EQ(limit.explain().dropped, 12u);
  // Timeouts never entered the RTT estimates.
  EXPECT_NEAR(toMillis(limit.recentRtt()), 10.0, 0.2);
}

TEST(AdaptiveConcurrencyLimit, AppLimitedTrafficDoesNotInflateTheLimit) {
  LimitSim s({}, kServers, kService);
  s.startOpenLoop(0.1 * kCapacityRps);  // about 1.6 in flight on average
  s.sampleEvery(milliseconds(250));
  s.runFor(seconds(120));
  const auto& l = s.limits();
  EXPECT_LE(*std::max_element(l.begin(), l.end()), 32.0);
  EXPECT_TRUE(s.limit().explain().app_limited);
}

TEST(AdaptiveConcurrencyLimit, ExplainReportsTheEvidence) {
  LimitSim s({}, kServers, kService);
  s.startClosedLoop(50, milliseconds(5));
  s.runFor(seconds(20));
  const ConcurrencyLimitExplain e = s.limit().explain();
  EXPECT_EQ(e.limit, s.limit().limit());
  EXPECT_NEAR(e.limit_exact, e.limit, 0.5);
  EXPECT_NEAR(toMillis(e.no_load_rtt), 10.0, 1.0);
  EXPECT_GT(e.recent_rtt, e.no_load_rtt);  // operating a little above no-load
  EXPECT_LE(toMillis(e.recent_rtt), 1.5 * 10.0 * 1.3);
  EXPECT_GE(e.gradient, 0.5);
  EXPECT_LE(e.gradient, 1.25);
  EXPECT_EQ(e.samples, s.completed());
  EXPECT_GT(e.windows, 70u);  // 250 ms windows over 20 s
  EXPECT_FALSE(e.app_limited);
}

TEST(AdaptiveConcurrencyLimit, DeterministicUnderSimulatedTime) {
  auto run = [] {
    LimitSim s({}, kServers, kService, 99);
    s.startOpenLoop(1.5 * kCapacityRps);
    s.sampleEvery(milliseconds(250));
    s.runFor(seconds(20));
    return std::make_pair(s.limits(), s.rejected());
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace rampart::policy
