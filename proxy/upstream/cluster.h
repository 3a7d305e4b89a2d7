#pragma once
// One worker's view of a cluster: a connection pool per endpoint and the
// endpoint choice. Owned by a worker; no state is shared with other workers.

#include <memory>
#include <optional>
#include <vector>

#include "policy/random.h"
#include "proxy/config/config.h"
#include "proxy/upstream/http1_pool.h"

namespace rampart::upstream {

class UpstreamCluster {
 public:
  UpstreamCluster(event::Dispatcher& dispatcher, const config::ClusterConfig& config,
                  stats::ClusterStats& stats);
  // Picks the endpoint for a new attempt, or nullopt when there is none.
  std::optional<size_t> pickEndpoint(policy::Rng& rng);
  Http1Pool& pool(size_t endpoint) { return *pools_[endpoint]; }
  const config::ClusterConfig& config() const { return config_; }
  stats::ClusterStats& stats() { return stats_; }
  size_t endpointCount() const { return pools_.size(); }
  // Closes idle upstream connections (drain).
  void closeIdle();

 private:
  const config::ClusterConfig& config_;
  stats::ClusterStats& stats_;
  std::vector<std::unique_ptr<Http1Pool>> pools_;
  size_t next_ = 0;
};

}  // namespace rampart::upstream
