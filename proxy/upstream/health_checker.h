#pragma once
// Active HTTP health checks. The main thread probes every endpoint of every
// cluster with a health_check block and publishes healthy/unhealthy in
// HealthState, which workers read with relaxed atomic loads when they pick an
// endpoint (one load per candidate; no lock).

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/event/connection.h"
#include "proxy/event/dispatcher.h"
#include "proxy/http/http1_codec.h"

namespace rampart::upstream {

class HealthState {
 public:
  explicit HealthState(const config::Config& config);
  // True unless active checks marked the endpoint unhealthy (endpoints start healthy).
  bool healthy(size_t cluster, size_t endpoint) const {
    return flags_[cluster][endpoint].load(std::memory_order_relaxed);
  }
  void set(size_t cluster, size_t endpoint, bool healthy) {
    flags_[cluster][endpoint].store(healthy, std::memory_order_relaxed);
  }

 private:
  std::vector<std::vector<std::atomic<bool>>> flags_;
};

// Where one endpoint's checks stand, for /policies.
struct HealthExplain {
  std::string cluster;
  std::string endpoint;
  bool healthy;
  uint32_t consecutive_successes;
  uint32_t consecutive_failures;
  uint64_t checks;
  std::string last_failure;  // empty when the last check passed
};

class HealthChecker {
 public:
  HealthChecker(event::Dispatcher& dispatcher, config::ConfigPtr config, HealthState& state);
  ~HealthChecker();
  // Starts probing (first probe right away).
  void start();
  std::vector<HealthExplain> explain() const;

 private:
  class Probe;
  std::vector<std::unique_ptr<Probe>> probes_;
};

}  // namespace rampart::upstream
