#include "proxy/batching/batch_engine.h"

namespace rampart::batching_engine {

BatchEngine::BatchEngine(config::ConfigPtr config, stats::WorkerStats& stats,
                         const upstream::HealthState* health)
    : config_(std::move(config)) {
  batchers_.resize(config_->routes.size());
  for (size_t r = 0; r < config_->routes.size(); ++r)
    active_ = active_ || config_->routes[r].batching.enabled;
  if (!active_) return;
  for (size_t c = 0; c < config_->clusters.size(); ++c) {
    clusters_.push_back(std::make_unique<upstream::UpstreamCluster>(
        dispatcher_, config_->clusters[c], c, stats.clusters[c], health));
  }
  for (size_t r = 0; r < config_->routes.size(); ++r) {
    const auto& route = config_->routes[r];
    if (!route.batching.enabled) continue;
    // Batches go to the route's first cluster (weighted splits do not apply to batches).
    batchers_[r] = std::make_unique<RouteBatcher>(
        dispatcher_, route, *clusters_[route.clusters.front().cluster_index], stats.routes[r]);
  }
  explain_timer_ = std::make_unique<event::Timer>(dispatcher_, [this] {
    refreshExplain();
    explain_timer_->enable(std::chrono::seconds(1));
  });
}

BatchEngine::~BatchEngine() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void BatchEngine::start() {
  if (!active_) return;
  explain_timer_->enable(std::chrono::seconds(1));
  thread_ = std::thread([this] {
    dispatcher_.run();
    for (auto& b : batchers_) {
      if (b) b->abandon();
    }
    batchers_.clear();
    dispatcher_.flushDeferred();
    clusters_.clear();
    explain_timer_.reset();
    dispatcher_.flushDeferred();
  });
}

void BatchEngine::stop() {
  if (thread_.joinable()) dispatcher_.post([this] { dispatcher_.exit(); });
}

filters::BatchSubmitter* BatchEngine::submitter(size_t route) const {
  return route < batchers_.size() ? batchers_[route].get() : nullptr;
}

void BatchEngine::refreshExplain() {
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& b : batchers_) {
    if (b) routes.push_back(b->explain());
  }
  std::lock_guard lock(explain_mutex_);
  explain_ = std::move(routes);
}

nlohmann::json BatchEngine::explain() const {
  std::lock_guard lock(explain_mutex_);
  return explain_;
}

}  // namespace rampart::batching_engine
