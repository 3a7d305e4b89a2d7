#include "proxy/server/worker.h"

#include <unistd.h>

#include <utility>

#include "proxy/common/log.h"
#include "proxy/downstream/protocol_sniffer.h"
#include "proxy/event/connection.h"

namespace rampart::server {

Worker::Worker(uint32_t index, config::ConfigPtr config, std::vector<int> listen_fds,
               stats::WorkerStats& stats, ListenerConnectionCounts& counts,
               const upstream::HealthState* health, std::vector<filters::BatchSubmitter*> batchers)
    : index_(index),
      config_(std::move(config)),
      listen_fds_(std::move(listen_fds)),
      stats_(stats),
      counts_(counts),
      health_(health),
      batchers_(std::move(batchers)) {}

Worker::~Worker() {
  join();
  for (int fd : listen_fds_) {
    if (fd >= 0) close(fd);
  }
}

void Worker::start(std::function<void()> on_exit) {
  on_exit_ = std::move(on_exit);
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  context_ =
      std::make_unique<WorkerContext>(dispatcher_, config_, stats_, index_, health_, batchers_);
  for (size_t i = 0; i < listen_fds_.size(); ++i) {
    const int fd = std::exchange(listen_fds_[i], -1);
    listeners_.push_back(std::make_unique<event::Listener>(
        dispatcher_, fd, [this, i](int accepted, const event::SocketAddress& peer) {
          onAccept(i, accepted, peer);
        }));
  }
  dispatcher_.run();
  // Tear down on this thread: every object here holds events of this loop.
  listeners_.clear();
  connections_.clear();
  dispatcher_.flushDeferred();
  context_.reset();
  dispatcher_.flushDeferred();
  if (on_exit_) on_exit_();
}

void Worker::onAccept(size_t listener, int fd, const event::SocketAddress& peer) {
  auto& count = counts_[listener];
  if (draining_ ||
      count.fetch_add(1, std::memory_order_relaxed) >= config_->limits.max_connections) {
    if (!draining_) count.fetch_sub(1, std::memory_order_relaxed);
    stats_.listeners[listener].downstream_connections_refused_total.inc();
    close(fd);
    return;
  }
  stats_.listeners[listener].downstream_connections_total.inc();
  stats_.listeners[listener].downstream_connections_active.inc();
  const auto& tls = config_->listeners[listener].tls;
  auto socket = tls.enabled ? event::BufferedConnection::adoptTls(dispatcher_, fd, tls.context)
                            : event::BufferedConnection::adopt(dispatcher_, fd);
  socket->setPeer(peer);
  auto connection =
      std::make_unique<downstream::ProtocolSniffer>(*context_, *this, listener, std::move(socket));
  auto* raw = connection.get();
  connections_.emplace(raw, std::move(connection));
}

void Worker::replaceConnection(downstream::DownstreamConnection& current,
                               std::unique_ptr<downstream::DownstreamConnection> next) {
  auto it = connections_.find(&current);
  if (it == connections_.end()) return;
  dispatcher_.deferredDelete(std::move(it->second));
  connections_.erase(it);
  auto* raw = next.get();
  connections_.emplace(raw, std::move(next));
  if (draining_) raw->drain();
}

void Worker::onConnectionDone(downstream::DownstreamConnection& connection) {
  auto it = connections_.find(&connection);
  if (it == connections_.end()) return;
  counts_[connection.listener()].fetch_sub(1, std::memory_order_relaxed);
  stats_.listeners[connection.listener()].downstream_connections_active.dec();
  dispatcher_.deferredDelete(std::move(it->second));
  connections_.erase(it);
  if (draining_) exitIfDrained();
}

void Worker::drain() {
  dispatcher_.post([this] {
    draining_ = true;
    context_->draining = true;
    for (auto& listener : listeners_) listener->disable();
    // Collect first: draining may close (and erase) connections.
    std::vector<downstream::DownstreamConnection*> open;
    for (auto& [raw, owned] : connections_) open.push_back(raw);
    for (auto* connection : open) {
      if (connections_.count(connection)) connection->drain();
    }
    for (auto& cluster : context_->clusters) cluster->closeIdle();
    exitIfDrained();
  });
}

void Worker::exitIfDrained() {
  if (connections_.empty()) dispatcher_.exit();
}

void Worker::requestReport(std::function<void(std::shared_ptr<WorkerPolicyReport>)> deliver) {
  dispatcher_.post([this, deliver = std::move(deliver)] {
    if (!context_) return;
    auto report = std::make_shared<WorkerPolicyReport>();
    report->worker = index_;
    const auto now = dispatcher_.now();
    for (auto& runtime : context_->route_runtimes) {
      RoutePolicyReport r{runtime->latencySnapshot(now), {}, {}, {}, {}};
      if (auto* budget = runtime->retryBudget()) r.retry_budget = budget->explain(now);
      if (auto* hedge = runtime->hedge()) r.hedge = hedge->explain(now);
      if (auto* admission = runtime->admission()) {
        r.admission = admission->explain();
        r.admission_counters = admission->counters();
      }
      report->routes.push_back(std::move(r));
    }
    for (auto& cluster : context_->clusters) report->clusters.push_back(cluster->explain());
    deliver(std::move(report));
  });
}

void Worker::publishLearned(std::vector<LearnedRouteValues> values) {
  dispatcher_.post([this, values = std::move(values)] {
    if (!context_) return;
    for (size_t i = 0; i < values.size() && i < context_->route_runtimes.size(); ++i) {
      context_->route_runtimes[i]->publishLearned(values[i].attempt_timeout, values[i].hedge_delay);
    }
  });
}

void Worker::stop() {
  dispatcher_.post([this] { dispatcher_.exit(); });
}

}  // namespace rampart::server
