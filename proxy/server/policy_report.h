#pragma once
// What a worker reports to the main thread's PolicyController each tick:
// copies of its evidence (latency sketches) and of its policies' state, so the
// main thread can merge them, learn, publish, and explain — with no lock.

#include <optional>
#include <vector>

#include "policy/admission_queue.h"
#include "policy/hedge_policy.h"
#include "policy/latency_sketch.h"
#include "policy/retry_budget.h"
#include "proxy/upstream/cluster.h"

namespace rampart::server {

struct RoutePolicyReport {
  policy::LatencySketch latency;  // the route's sliding window, merged over its slots
  std::optional<policy::RetryBudgetExplain> retry_budget;
  std::optional<policy::HedgeExplain> hedge;
  std::optional<policy::AdmissionExplain> admission;
  std::optional<policy::AdmissionCounters> admission_counters;
};

struct WorkerPolicyReport {
  uint32_t worker = 0;
  std::vector<RoutePolicyReport> routes;
  std::vector<std::vector<upstream::EndpointExplain>> clusters;
};

// A learned value per route, published back to every worker.
struct LearnedRouteValues {
  policy::Duration attempt_timeout;
  policy::Duration hedge_delay;
};

}  // namespace rampart::server
