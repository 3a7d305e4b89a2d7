#include "proxy/server/server.h"

#include <signal.h>
#include <unistd.h>

#include "proxy/common/log.h"
#include "proxy/event/listener.h"

namespace rampart::server {

Server::Server(config::ConfigPtr config) : config_(std::move(config)) {
  std::vector<size_t> clusters_per_route;
  for (const auto& route : config_->routes) clusters_per_route.push_back(route.clusters.size());
  std::vector<size_t> endpoints_per_cluster;
  for (const auto& cluster : config_->clusters)
    endpoints_per_cluster.push_back(cluster.endpoints.size());
  // One stats block per worker, and one for the batching thread.
  for (uint32_t i = 0; i <= config_->workers; ++i) {
    stats_.push_back(std::make_unique<stats::WorkerStats>(
        config_->listeners.size(), endpoints_per_cluster, clusters_per_route));
  }
  connection_counts_ = std::make_unique<ListenerConnectionCounts>(config_->listeners.size());
  health_ = std::make_unique<upstream::HealthState>(*config_);
  batch_engine_ =
      std::make_unique<batching_engine::BatchEngine>(config_, *stats_.back(), health_.get());
}

Server::~Server() {
  for (auto& worker : workers_) worker->join();
}

bool Server::openListeners(std::vector<std::vector<int>>* per_worker_fds) {
  per_worker_fds->assign(config_->workers, {});
  for (const auto& listener : config_->listeners) {
    event::SocketAddress address = listener.address;
    for (uint32_t w = 0; w < config_->workers; ++w) {
      std::string error;
      const int fd = event::openListenSocket(address, 4096, &error);
      if (fd < 0) {
        log::error("cannot listen", {{"listener", listener.name}, {"error", error}});
        for (auto& fds : *per_worker_fds) {
          for (int open : fds) close(open);
        }
        return false;
      }
      // Port 0: the first socket picks the port, the others join it.
      if (w == 0) address = event::localAddress(fd);
      (*per_worker_fds)[w].push_back(fd);
    }
    log::info("listening", {{"listener", listener.name},
                            {"address", address.toString()},
                            {"workers", config_->workers}});
  }
  return true;
}

int Server::run() {
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::vector<int>> fds;
  if (!openListeners(&fds)) return 1;

  std::vector<const stats::WorkerStats*> stats_views;
  for (const auto& s : stats_) stats_views.push_back(s.get());
  admin_ = std::make_unique<admin::AdminServer>(dispatcher_, config_, stats_views);
  std::string error;
  if (!admin_->start(&error)) {
    log::error("cannot start the admin server", {{"error", error}});
    for (auto& worker_fds : fds) {
      for (int fd : worker_fds) close(fd);
    }
    return 1;
  }
  log::info("admin listening", {{"address", admin_->address().toString()}});

  std::vector<filters::BatchSubmitter*> batchers;
  for (size_t r = 0; r < config_->routes.size(); ++r)
    batchers.push_back(batch_engine_->submitter(r));
  batch_engine_->start();
  for (uint32_t i = 0; i < config_->workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, config_, std::move(fds[i]), *stats_[i],
                                                *connection_counts_, health_.get(), batchers));
  }
  health_checker_ = std::make_unique<upstream::HealthChecker>(dispatcher_, config_, *health_);
  health_checker_->start();
  std::vector<Worker*> worker_views;
  for (auto& worker : workers_) worker_views.push_back(worker.get());
  policy_controller_ =
      std::make_unique<PolicyController>(dispatcher_, config_, worker_views, health_checker_.get());
  policy_controller_->start(std::chrono::seconds(1));
  admin_->setPoliciesSource([this] {
    nlohmann::json view = policy_controller_->explain();
    if (batch_engine_->active()) view["batching"] = batch_engine_->explain();
    return view;
  });
  workers_running_ = workers_.size();
  for (auto& worker : workers_) {
    worker->start([this] { dispatcher_.post([this] { onWorkerExited(); }); });
  }
  signals_.push_back(
      std::make_unique<event::SignalEvent>(dispatcher_, SIGTERM, [this] { beginDrain(); }));
  signals_.push_back(
      std::make_unique<event::SignalEvent>(dispatcher_, SIGINT, [this] { beginDrain(); }));
  admin_->setReady(true);
  log::info("ready", {{"workers", config_->workers}, {"config", config_->source}});
  dispatcher_.run();
  for (auto& worker : workers_) worker->join();
  log::info("stopped");
  return 0;
}

void Server::beginDrain() {
  if (draining_) {
    // A second signal: stop at once.
    for (auto& worker : workers_) worker->stop();
    return;
  }
  draining_ = true;
  admin_->setReady(false);
  policy_controller_->stop();
  log::info("draining", {{"timeout_ms", policy::toMillis(config_->drain_timeout)}});
  for (auto& worker : workers_) worker->drain();
  drain_timer_ = std::make_unique<event::Timer>(dispatcher_, [this] {
    log::warn("drain timeout: closing remaining connections");
    for (auto& worker : workers_) worker->stop();
  });
  drain_timer_->enable(config_->drain_timeout);
}

void Server::onWorkerExited() {
  if (--workers_running_ > 0) return;
  // Every request is answered; the batching thread has nothing left to wait for.
  batch_engine_->stop();
  dispatcher_.exit();
}

}  // namespace rampart::server
