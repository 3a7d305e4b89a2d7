#pragma once
// The batching thread: one event loop shared by every worker, holding one
// RouteBatcher per batching route and its own upstream pools, so requests
// from all workers merge into the same batches. Workers reach it only through
// RouteBatcher::submit() (a post to this loop); results are posted back.

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "proxy/batching/route_batcher.h"
#include "proxy/config/config.h"
#include "proxy/upstream/health_checker.h"

namespace rampart::batching_engine {

class BatchEngine {
 public:
  // Builds the batchers for every route with a batching block (before any thread starts).
  BatchEngine(config::ConfigPtr config, stats::WorkerStats& stats,
              const upstream::HealthState* health);
  ~BatchEngine();
  // True when some route batches.
  bool active() const { return active_; }
  void start();
  // Answers what is still queued and stops the loop (after the workers drained).
  void stop();
  // The submitter for route `index`, or null when the route does not batch.
  filters::BatchSubmitter* submitter(size_t route) const;
  // The last /policies snapshot of every batcher (refreshed every second).
  nlohmann::json explain() const;

 private:
  void refreshExplain();

  config::ConfigPtr config_;
  event::Dispatcher dispatcher_;
  std::vector<std::unique_ptr<upstream::UpstreamCluster>> clusters_;
  std::vector<std::unique_ptr<RouteBatcher>> batchers_;  // by route; null when none
  std::unique_ptr<event::Timer> explain_timer_;
  mutable std::mutex explain_mutex_;  // taken once a second here and per admin request
  nlohmann::json explain_ = nlohmann::json::array();
  std::thread thread_;
  bool active_ = false;
};

}  // namespace rampart::batching_engine
