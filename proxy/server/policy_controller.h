#pragma once
// The main thread's policy control loop. Every tick it asks each worker for a
// report (posted to the worker's loop, answered by a post back), merges the
// routes' latency sketches across workers, updates the learned timeout and
// hedge delay of each route (policy::LearnedTimeout, policy::HedgePolicy), and
// posts the new values to every worker. It keeps the last merged picture for
// the admin /policies view.

#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/hedge_policy.h"
#include "policy/learned_timeout.h"
#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/server/policy_report.h"
#include "proxy/upstream/health_checker.h"

namespace rampart::server {

class Worker;

class PolicyController {
 public:
  PolicyController(event::Dispatcher& dispatcher, config::ConfigPtr config,
                   std::vector<Worker*> workers, const upstream::HealthChecker* health);
  // Starts the tick (every `interval`).
  void start(policy::Duration interval);
  // Stops asking workers (drain).
  void stop();
  // The /policies view: per route and per cluster endpoint, values and evidence.
  nlohmann::json explain() const;

 private:
  void tick();
  void onReport(uint64_t generation, std::shared_ptr<WorkerPolicyReport> report);
  void learn();

  event::Dispatcher& dispatcher_;
  config::ConfigPtr config_;
  std::vector<Worker*> workers_;
  const upstream::HealthChecker* health_;
  event::Timer timer_;
  policy::Duration interval_{};
  bool stopped_ = false;
  uint64_t generation_ = 0;
  uint64_t completed_ = 0;  // rounds with a report from every worker
  std::vector<std::shared_ptr<WorkerPolicyReport>> pending_;  // this generation's reports
  std::vector<std::shared_ptr<WorkerPolicyReport>> latest_;   // the last complete set
  std::vector<policy::LearnedTimeout> timeouts_;              // per route
  std::vector<policy::HedgePolicy> hedges_;                   // per route (delay learning only)
  std::vector<policy::LatencySketch> merged_;                 // per route, last merge
};

}  // namespace rampart::server
