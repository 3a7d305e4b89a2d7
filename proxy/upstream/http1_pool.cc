#include "proxy/upstream/http1_pool.h"

#include <algorithm>

#include "proxy/common/log.h"

namespace rampart::upstream {

Http1Pool::Http1Pool(event::Dispatcher& dispatcher, const config::ClusterConfig& cluster,
                     const event::SocketAddress& endpoint, stats::ClusterStats& stats)
    : dispatcher_(dispatcher),
      cluster_(cluster),
      endpoint_(endpoint),
      stats_(stats),
      idle_timer_(dispatcher, [this] { closeExpiredIdle(); }) {}

Http1Pool::~Http1Pool() {
  // Connections call back into the pool while closing; detach them first.
  pending_.clear();
  idle_.clear();
  idle_since_.clear();
  for (auto& connection : connections_) {
    if (connection->state() != Http1ClientConnection::State::Closed) {
      stats_.upstream_connections_active.dec();
    }
  }
  connections_.clear();
}

uint64_t Http1Pool::newStream(UpstreamResponseHandler& handler, PoolCallbacks& callbacks) {
  if (!idle_.empty()) {
    Http1ClientConnection* connection = idle_.back();
    idle_.pop_back();
    idle_since_.pop_back();
    assign(*connection, Pending{0, &handler, &callbacks});
    return 0;
  }
  if (pending_.size() >= cluster_.max_pending_requests) {
    stats_.upstream_pending_overflow_total.inc();
    callbacks.onPoolFailure(UpstreamFailure::PoolOverflow);
    return 0;
  }
  const uint64_t ticket = next_ticket_++;
  pending_.push_back(Pending{ticket, &handler, &callbacks});
  if (connecting_ < pending_.size() &&
      connections_.size() < cluster_.max_connections_per_endpoint) {
    openConnection();
  }
  return ticket;
}

void Http1Pool::cancel(uint64_t ticket) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [ticket](const Pending& p) { return p.ticket == ticket; });
  if (it != pending_.end()) pending_.erase(it);
}

void Http1Pool::openConnection() {
  ++connecting_;
  stats_.upstream_connections_total.inc();
  stats_.upstream_connections_active.inc();
  auto socket = connectUpstream(dispatcher_, cluster_, endpoint_);
  connections_.push_back(std::make_unique<Http1ClientConnection>(
      *this, dispatcher_, std::move(socket), stats_, cluster_.connect_timeout));
}

void Http1Pool::assign(Http1ClientConnection& connection, Pending pending) {
  ++active_requests_;
  connection.attach(*pending.handler);
  pending.callbacks->onPoolReady(connection);
}

void Http1Pool::onConnectionReady(Http1ClientConnection& connection) {
  --connecting_;
  if (!pending_.empty()) {
    Pending next = pending_.front();
    pending_.pop_front();
    assign(connection, next);
    return;
  }
  idle_.push_back(&connection);
  idle_since_.push_back(dispatcher_.now());
  armIdleTimer();
}

void Http1Pool::onResponseComplete(Http1ClientConnection& connection, bool reusable) {
  --active_requests_;
  if (!reusable) {
    connection.close();
    return;
  }
  if (!pending_.empty()) {
    Pending next = pending_.front();
    pending_.pop_front();
    assign(connection, next);
    return;
  }
  idle_.push_back(&connection);
  idle_since_.push_back(dispatcher_.now());
  armIdleTimer();
}

void Http1Pool::onConnectionClosed(Http1ClientConnection& connection, bool was_busy,
                                   std::optional<UpstreamFailure> connect_failure) {
  stats_.upstream_connections_active.dec();
  if (was_busy) --active_requests_;
  for (size_t i = 0; i < idle_.size(); ++i) {
    if (idle_[i] == &connection) {
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      idle_since_.erase(idle_since_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  dispatcher_.deferredDelete(take(connection));
  if (connect_failure) {
    --connecting_;
    // Each waiter beyond the connects still in flight has lost its connection.
    if (pending_.size() > connecting_) {
      Pending failed = pending_.front();
      pending_.pop_front();
      failed.callbacks->onPoolFailure(*connect_failure);
    }
  }
}

std::unique_ptr<Http1ClientConnection> Http1Pool::take(Http1ClientConnection& connection) {
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() == &connection) {
      auto owned = std::move(*it);
      connections_.erase(it);
      return owned;
    }
  }
  return nullptr;
}

void Http1Pool::armIdleTimer() {
  if (!idle_timer_.enabled() && !idle_since_.empty()) {
    const auto due = idle_since_.front() + cluster_.upstream_idle_timeout - dispatcher_.now();
    idle_timer_.enable(std::max(due, event::Duration::zero()));
  }
}

void Http1Pool::closeExpiredIdle() {
  const auto now = dispatcher_.now();
  // idle_ is ordered oldest first.
  while (!idle_.empty() && now - idle_since_.front() >= cluster_.upstream_idle_timeout) {
    Http1ClientConnection* oldest = idle_.front();
    oldest->close();  // removes itself from idle_
  }
  armIdleTimer();
}

void Http1Pool::closeIdle() {
  while (!idle_.empty()) idle_.front()->close();
}

}  // namespace rampart::upstream
