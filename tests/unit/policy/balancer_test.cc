#include "policy/balancer.h"

#include <gtest/gtest.h>

#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "policy/peak_ewma.h"
#include "policy/time.h"

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const char* kNames[] = {"round_robin", "least_request", "p2c_ewma"};

std::vector<EndpointLoad> equalLoads(size_t n) {
  return std::vector<EndpointLoad>(n, EndpointLoad{true, 0, 30.0, 1});
}

TEST(BalancerTest, FactoryKnowsTheThreeNames) {
  for (const char* name : kNames) {
    auto b = makeBalancer(name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(b->name(), name);
  }
  EXPECT_EQ(makeBalancer("random"), nullptr);
  EXPECT_EQ(makeBalancer(""), nullptr);
}

TEST(BalancerTest, EmptyClusterHasNoPick) {
  Rng rng(1);
  for (const char* name : kNames) {
    EXPECT_FALSE(makeBalancer(name)->pick({}, TriedSet(), rng).has_value()) << name;
  }
}

TEST(BalancerTest, EqualLoadsSpreadNearUniformly) {
  Rng rng(2);
  const auto loads = equalLoads(4);
  for (const char* name : kNames) {
    auto b = makeBalancer(name);
    std::vector<int> hits(4);
    constexpr int kPicks = 40000;
    for (int i = 0; i < kPicks; ++i) {
      const auto p = b->pick(loads, TriedSet(), rng);
      ASSERT_TRUE(p);
      EXPECT_FALSE(p->panic);
      ++hits[p->index];
    }
    for (int h : hits) EXPECT_NEAR(h / double(kPicks), 0.25, 0.015) << name;
  }
}

TEST(BalancerTest, RoundRobinRotatesExactly) {
  Rng rng(3);
  RoundRobinBalancer rr;
  const auto loads = equalLoads(3);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(rr.pick(loads, TriedSet(), rng)->index, size_t(i % 3));
}

TEST(BalancerTest, WeightsShiftTraffic) {
  Rng rng(4);
  std::vector<EndpointLoad> loads = {{true, 0, 30.0, 3}, {true, 0, 30.0, 1}};
  RoundRobinBalancer rr;
  int first = 0;
  for (int i = 0; i < 4000; ++i) first += rr.pick(loads, TriedSet(), rng)->index == 0;
  EXPECT_EQ(first, 3000);
  // Smooth: never more than 3 in a row for the heavy endpoint, never 2 for the light one.
  std::string seq;
  for (int i = 0; i < 8; ++i) seq += char('0' + rr.pick(loads, TriedSet(), rng)->index);
  EXPECT_EQ(seq.find("0000"), std::string::npos);
  EXPECT_EQ(seq.find("11"), std::string::npos);
  // P2C balancers: with equal outstanding the weighted one wins every draw.
  LeastRequestBalancer lr;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(lr.pick(loads, TriedSet(), rng)->index, 0u);
}

TEST(BalancerTest, NeverPicksTriedEndpointsWhileOthersAreAvailable) {
  Rng rng(5);
  const auto loads = equalLoads(4);
  TriedSet tried;
  tried.insert(1);
  tried.insert(2);
  for (const char* name : kNames) {
    auto b = makeBalancer(name);
    std::vector<int> hits(4);
    for (int i = 0; i < 2000; ++i) {
      const auto p = b->pick(loads, tried, rng);
      ASSERT_TRUE(p);
      EXPECT_FALSE(p->reused_tried);
      ++hits[p->index];
    }
    EXPECT_EQ(hits[1] + hits[2], 0) << name;
    EXPECT_GT(hits[0], 500) << name;
    EXPECT_GT(hits[3], 500) << name;
  }
}

TEST(BalancerTest, SkipsUnavailableEndpoints) {
  Rng rng(6);
  auto loads = equalLoads(3);
  loads[0].available = false;
  loads[2].cost_ms = 0.1;  // the cheapest one is ejected
  loads[2].available = false;
  for (const char* name : kNames) {
    auto b = makeBalancer(name);
    for (int i = 0; i < 500; ++i) {
      const auto p = b->pick(loads, TriedSet(), rng);
      ASSERT_TRUE(p);
      EXPECT_EQ(p->index, 1u) << name;
      EXPECT_FALSE(p->panic);
    }
  }
}

TEST(BalancerTest, FallsBackToTriedButAvailableEndpoints) {
  Rng rng(7);
  auto loads = equalLoads(3);
  loads[2].available = false;
  TriedSet tried;
  tried.insert(0);
  tried.insert(1);
  for (const char* name : kNames) {
    auto b = makeBalancer(name);
    for (int i = 0; i < 500; ++i) {
      const auto p = b->pick(loads, tried, rng);
      ASSERT_TRUE(p);
      EXPECT_NE(p->index, 2u) << name;  // tried-and-up beats untried-and-down
      EXPECT_TRUE(p->reused_tried);
      EXPECT_FALSE(p->panic);
    }
  }
}

TEST(BalancerTest, PanicModeServesFromAllEndpointsPreferringUntried) {
  Rng rng(8);
  auto loads = equalLoads(3);
  for (auto& l : loads) l.available = false;
  for (const char* name : kNames) {
    auto b = makeBalancer(name);
    std::vector<int> hits(3);
    for (int i = 0; i < 3000; ++i) {
      const auto p = b->pick(loads, TriedSet(), rng);
      ASSERT_TRUE(p);
      EXPECT_TRUE(p->panic);
      ++hits[p->index];
    }
    for (int h : hits) EXPECT_GT(h, 800) << name;
    TriedSet tried;
    tried.insert(0);
    for (int i = 0; i < 200; ++i) {
      const auto p = b->pick(loads, tried, rng);
      EXPECT_NE(p->index, 0u) << name;
      EXPECT_TRUE(p->panic);
    }
    tried.insert(1);
    tried.insert(2);
    const auto p = b->pick(loads, tried, rng);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->panic);
    EXPECT_TRUE(p->reused_tried);
  }
}

TEST(BalancerTest, LeastRequestPrefersFewerOutstanding) {
  Rng rng(9);
  std::vector<EndpointLoad> loads = {{true, 8, 30, 1}, {true, 0, 30, 1}, {true, 8, 30, 1}};
  LeastRequestBalancer lr;
  int idle = 0;
  constexpr int kPicks = 3000;
  for (int i = 0; i < kPicks; ++i) idle += lr.pick(loads, TriedSet(), rng)->index == 1;
  // P2C: the idle endpoint wins whenever it is drawn, i.e. 2 of 3 draws.
  EXPECT_NEAR(idle / double(kPicks), 2.0 / 3.0, 0.03);
}

TEST(TriedSetTest, RemembersUpToCapacityThenForgetsTheOldest) {
  TriedSet t;
  EXPECT_TRUE(t.empty());
  t.insert(1000);  // any index, not just < 64
  t.insert(1000);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.contains(1000));
  for (size_t i = 0; i < TriedSet::kCapacity; ++i) t.insert(i);
  EXPECT_EQ(t.size(), TriedSet::kCapacity);
  EXPECT_FALSE(t.contains(1000));
  EXPECT_TRUE(t.contains(TriedSet::kCapacity - 1));
  t.clear();
  EXPECT_FALSE(t.contains(3));
}

// A discrete-event simulation of one worker: requests arrive every
// `interarrival`, the balancer picks with PeakEwma costs and outstanding
// counts, and each endpoint answers after its latency, succeeding or not.
struct SimEndpoint {
  Duration latency;
  bool fails = false;
};

struct SimResult {
  std::vector<int> picks;
  int panics = 0;
};

SimResult simulate(Balancer& balancer, const std::vector<SimEndpoint>& endpoints, Duration run_for,
                   Duration interarrival, bool penalise_failures) {
  struct Completion {
    TimePoint at;
    size_t index;
    Duration rtt;
    bool operator>(const Completion& o) const { return at > o.at; }
  };
  SimulatedTimeSource clock;
  Rng rng(42);
  std::vector<PeakEwma> ewma(endpoints.size());
  std::vector<uint32_t> outstanding(endpoints.size());
  std::priority_queue<Completion, std::vector<Completion>, std::greater<>> pending;
  SimResult result;
  result.picks.assign(endpoints.size(), 0);
  std::vector<EndpointLoad> loads(endpoints.size());
  const TimePoint end = clock.now() + run_for;
  for (TimePoint t = clock.now(); t < end; t += interarrival) {
    while (!pending.empty() && pending.top().at <= t) {
      const Completion c = pending.top();
      pending.pop();
      --outstanding[c.index];
      if (endpoints[c.index].fails && penalise_failures) {
        ewma[c.index].observeFailure(c.at, c.rtt);
      } else {
        ewma[c.index].observeSuccess(c.at, c.rtt);  // Linkerd: a failure is just a sample
      }
    }
    for (size_t i = 0; i < endpoints.size(); ++i) {
      loads[i] = EndpointLoad{true, outstanding[i], ewma[i].estimateMillis(t), 1};
    }
    const auto p = balancer.pick(loads, TriedSet(), rng);
    ++result.picks[p->index];
    result.panics += p->panic;
    ++outstanding[p->index];
    pending.push({t + endpoints[p->index].latency, p->index, endpoints[p->index].latency});
  }
  return result;
}

double share(const SimResult& r, size_t i) {
  int total = 0;
  for (int n : r.picks) total += n;
  return r.picks[i] / double(total);
}

TEST(P2cEwmaSimulationTest, SendsMostTrafficToTheFasterEndpoint) {
  P2cEwmaBalancer p2c;
  // 200 rps against a 10 ms and a 50 ms endpoint for 60 simulated seconds.
  const SimResult r =
      simulate(p2c, {{milliseconds(10)}, {milliseconds(50)}}, seconds(60), milliseconds(5), true);
  EXPECT_GT(share(r, 0), 0.8);
  EXPECT_EQ(r.panics, 0);
  // Least request, blind to latency, splits far more evenly: the EWMA is what matters.
  LeastRequestBalancer lr;
  const SimResult blind =
      simulate(lr, {{milliseconds(10)}, {milliseconds(50)}}, seconds(60), milliseconds(5), true);
  EXPECT_LT(share(blind, 0), share(r, 0) - 0.1);
}

TEST(P2cEwmaSimulationTest, AvoidsAFastFailingEndpoint) {
  // Endpoint 0 answers every request with an instant error; 1 and 2 succeed in 20 ms.
  const std::vector<SimEndpoint> endpoints = {
      {milliseconds(1), true}, {milliseconds(20)}, {milliseconds(20)}};
  P2cEwmaBalancer naive_balancer;
  const SimResult naive = simulate(naive_balancer, endpoints, seconds(60), milliseconds(5), false);
  // Linkerd's pathology, reproduced: the failing endpoint looks cheapest and wins.
  EXPECT_GT(share(naive, 0), 0.5);

  P2cEwmaBalancer fixed_balancer;
  const SimResult fixed = simulate(fixed_balancer, endpoints, seconds(60), milliseconds(5), true);
  // With the failure penalty it gets only occasional probes once its cost decays.
  EXPECT_LT(share(fixed, 0), 0.01);
  EXPECT_GT(fixed.picks[0], 0);  // but it is probed, so a recovery would be noticed
  EXPECT_NEAR(share(fixed, 1), share(fixed, 2), 0.05);
}

}  // namespace
}  // namespace rampart::policy
