#include "proxy/upstream/http2_pool.h"

#include <algorithm>

namespace rampart::upstream {

Http2Pool::Http2Pool(event::Dispatcher& dispatcher, const config::ClusterConfig& cluster,
                     const event::SocketAddress& endpoint, stats::ClusterStats& stats)
    : dispatcher_(dispatcher),
      cluster_(cluster),
      endpoint_(endpoint),
      stats_(stats),
      peer_stream_limit_(cluster.http2.max_concurrent_streams) {}

Http2Pool::~Http2Pool() {
  pending_.clear();
  for (auto& c : connections_) {
    if (c) stats_.upstream_connections_active.dec();
  }
  connections_.clear();
}

Http2ClientConnection* Http2Pool::withRoom() {
  Http2ClientConnection* best = nullptr;
  for (auto& c : connections_) {
    // The busiest connection with room: idle ones can then time out.
    if (c->hasRoom() && (!best || c->activeStreams() > best->activeStreams())) best = c.get();
  }
  return best;
}

uint64_t Http2Pool::newStream(UpstreamResponseHandler& handler, PoolCallbacks& callbacks) {
  if (Http2ClientConnection* c = withRoom(); c && pending_.empty()) {
    callbacks.onPoolReady(c->newStream(handler));
    return 0;
  }
  if (pending_.size() >= cluster_.max_pending_requests) {
    stats_.upstream_pending_overflow_total.inc();
    callbacks.onPoolFailure(UpstreamFailure::PoolOverflow);
    return 0;
  }
  const uint64_t ticket = next_ticket_++;
  pending_.push_back({ticket, &handler, &callbacks});
  if (connecting_ == 0 && connections_.size() < cluster_.max_connections_per_endpoint)
    openConnection();
  return ticket;
}

void Http2Pool::cancel(uint64_t ticket) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.ticket == ticket; });
  if (it != pending_.end()) pending_.erase(it);
}

void Http2Pool::openConnection() {
  ++connecting_;
  stats_.upstream_connections_total.inc();
  stats_.upstream_connections_active.inc();
  connections_.push_back(std::make_unique<Http2ClientConnection>(
      *this, dispatcher_, connectUpstream(dispatcher_, cluster_, endpoint_), cluster_, stats_));
}

void Http2Pool::assignPending() {
  while (!pending_.empty()) {
    Http2ClientConnection* c = withRoom();
    if (!c) {
      if (connecting_ == 0 && connections_.size() < cluster_.max_connections_per_endpoint) {
        openConnection();
      }
      return;
    }
    Pending next = pending_.front();
    pending_.pop_front();
    next.callbacks->onPoolReady(c->newStream(*next.handler));
  }
}

void Http2Pool::onConnectionReady(Http2ClientConnection&) {
  --connecting_;
  assignPending();
}

void Http2Pool::onStreamDone(Http2ClientConnection& connection) {
  // A draining connection with nothing left closes; its replacement opens on demand.
  if (!connection.ready() && !connection.connecting() && connection.activeStreams() == 0) {
    connection.close();
    return;
  }
  if (connection.connecting()) return;
  if (!connection.ready() && connection.activeStreams() == 0) {
    connection.close();
    return;
  }
  assignPending();
}

void Http2Pool::onConnectionClosed(Http2ClientConnection& connection,
                                   std::optional<UpstreamFailure> connect_failure) {
  stats_.upstream_connections_active.dec();
  if (connect_failure) --connecting_;
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() == &connection) {
      dispatcher_.deferredDelete(std::move(*it));
      connections_.erase(it);
      break;
    }
  }
  if (connect_failure && connecting_ == 0) {
    // Nobody is connecting any more: the waiters fail now rather than hang.
    std::deque<Pending> failed;
    failed.swap(pending_);
    for (auto& p : failed) p.callbacks->onPoolFailure(*connect_failure);
    return;
  }
  assignPending();
}

void Http2Pool::closeIdle() {
  std::vector<Http2ClientConnection*> idle;
  for (auto& c : connections_) {
    if (c->activeStreams() == 0 && !c->connecting()) idle.push_back(c.get());
  }
  for (auto* c : idle) c->close();
}

}  // namespace rampart::upstream
