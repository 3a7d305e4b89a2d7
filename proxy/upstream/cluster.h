#pragma once
// One worker's view of a cluster: a connection pool per endpoint, the
// balancer that picks among them, and what feeds the pick — outstanding
// attempts, peak-EWMA latency, outlier ejections and active health. Owned by
// a worker; nothing here is shared with other workers except the health flags
// (relaxed atomics written by the main thread's checker).

#include <memory>
#include <optional>
#include <vector>

#include "policy/balancer.h"
#include "policy/outlier_detector.h"
#include "policy/peak_ewma.h"
#include "policy/random.h"
#include "proxy/config/config.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/health_checker.h"

namespace rampart::upstream {

// How an attempt ended, for the balancer and outlier detection.
enum class AttemptResult {
  Success,    // a response below 500
  Failure,    // 5xx, reset, protocol error, connect failure
  TimedOut,   // no answer within the attempt timeout (slow, not necessarily broken)
  Cancelled,  // abandoned by us (a hedge lost, the client left): no evidence either way
};

// One endpoint as /policies shows it.
struct EndpointExplain {
  std::string endpoint;
  bool healthy;
  bool ejected;
  uint32_t outstanding;
  double peak_ewma_ms;
  std::optional<policy::EndpointOutlierState> outlier;
};

class UpstreamCluster {
 public:
  UpstreamCluster(event::Dispatcher& dispatcher, const config::ClusterConfig& config,
                  size_t cluster_index, stats::ClusterStats& stats, const HealthState* health);
  ~UpstreamCluster();

  // Picks the endpoint for a new attempt, avoiding `tried`; nullopt only for an empty cluster.
  std::optional<policy::Pick> pickEndpoint(const policy::TriedSet& tried, policy::Rng& rng);
  // An attempt to `endpoint` starts / is done (every start is matched by one done).
  void onAttemptStart(size_t endpoint);
  void onAttemptDone(size_t endpoint);
  // What an attempt's outcome says about the endpoint (at most once per attempt).
  void onAttemptResult(size_t endpoint, AttemptResult result, policy::Duration latency);
  ConnectionPool& pool(size_t endpoint) { return *endpoints_[endpoint].pool; }
  const config::ClusterConfig& config() const { return config_; }
  stats::ClusterStats& stats() { return stats_; }
  size_t endpointCount() const { return endpoints_.size(); }
  bool ejected(size_t endpoint) const;
  std::vector<EndpointExplain> explain() const;
  // Closes idle upstream connections (drain).
  void closeIdle();

 private:
  struct Endpoint {
    std::unique_ptr<ConnectionPool> pool;
    policy::PeakEwma ewma;
    uint32_t outstanding = 0;
    bool was_ejected = false;  // for metrics on transitions
  };
  void evaluateOutliers();
  void syncEjectionMetrics();

  event::Dispatcher& dispatcher_;
  const config::ClusterConfig& config_;
  size_t index_;
  stats::ClusterStats& stats_;
  const HealthState* health_;
  std::vector<Endpoint> endpoints_;
  std::unique_ptr<policy::Balancer> balancer_;
  std::unique_ptr<policy::OutlierDetector> outliers_;  // null when disabled
  std::unique_ptr<event::Timer> outlier_timer_;
  std::vector<policy::EndpointLoad> loads_;  // scratch for pick()
};

}  // namespace rampart::upstream
