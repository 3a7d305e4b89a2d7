#include "proxy/upstream/cluster.h"

namespace rampart::upstream {

UpstreamCluster::UpstreamCluster(event::Dispatcher& dispatcher, const config::ClusterConfig& config,
                                 stats::ClusterStats& stats)
    : config_(config), stats_(stats) {
  for (const auto& endpoint : config.endpoints) {
    pools_.push_back(std::make_unique<Http1Pool>(dispatcher, config, endpoint.address, stats));
  }
}

std::optional<size_t> UpstreamCluster::pickEndpoint(policy::Rng& rng) {
  if (pools_.empty()) return std::nullopt;
  // Round robin; each worker starts at a random offset so workers don't move in step.
  if (next_ == 0) next_ = rng.below(pools_.size()) + 1;
  return next_++ % pools_.size();
}

void UpstreamCluster::closeIdle() {
  for (auto& pool : pools_) pool->closeIdle();
}

}  // namespace rampart::upstream
