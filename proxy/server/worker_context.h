#pragma once
// What a worker's requests need: its loop, its config generation, its
// clusters, route policy state and stats. One per worker thread; nothing here
// is shared with other workers except the health flags (relaxed atomics).

#include <memory>
#include <vector>

#include "policy/random.h"
#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/router/route_runtime.h"
#include "proxy/router/route_table.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/health_checker.h"

namespace rampart::server {

struct WorkerContext {
  WorkerContext(event::Dispatcher& d, config::ConfigPtr c, stats::WorkerStats& s, uint32_t index,
                const upstream::HealthState* health,
                const std::vector<filters::BatchSubmitter*>& batchers)
      : dispatcher(d),
        config(c),
        routes(c),
        stats(s),
        rng(0x9E3779B97F4A7C15ull * (index + 1)),
        worker_index(index) {
    for (size_t i = 0; i < config->clusters.size(); ++i) {
      clusters.push_back(std::make_unique<upstream::UpstreamCluster>(
          dispatcher, config->clusters[i], i, stats.clusters[i], health));
    }
    for (size_t i = 0; i < config->routes.size(); ++i) {
      route_runtimes.push_back(std::make_unique<router::RouteRuntime>(
          dispatcher, config->routes[i], stats.routes[i], config->workers,
          i < batchers.size() ? batchers[i] : nullptr, config->limits.max_body_bytes));
    }
  }

  event::Dispatcher& dispatcher;
  config::ConfigPtr config;
  router::RouteTable routes;
  stats::WorkerStats& stats;
  std::vector<std::unique_ptr<upstream::UpstreamCluster>> clusters;
  std::vector<std::unique_ptr<router::RouteRuntime>> route_runtimes;
  policy::Rng rng;
  uint32_t worker_index;
  bool draining = false;  // set on SIGTERM: finish in-flight work, close keep-alive connections
};

}  // namespace rampart::server
