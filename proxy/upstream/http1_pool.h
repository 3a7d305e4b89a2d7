#pragma once
// A per-worker pool of HTTP/1.1 connections to one endpoint: reuses idle
// connections (most recently used first), opens new ones up to a limit, and
// queues requests beyond it up to another limit. Single-threaded: owned by one worker.

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>

#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/http1_client_connection.h"

namespace rampart::upstream {

class Http1Pool final : public ConnectionPool {
 public:
  Http1Pool(event::Dispatcher& dispatcher, const config::ClusterConfig& cluster,
            const event::SocketAddress& endpoint, stats::ClusterStats& stats);
  ~Http1Pool() override;

  // Asks for a connection for one request. Calls callbacks.onPoolReady() at once when an
  // idle connection exists (returns 0), or later (returns a ticket for cancel()).
  // Failures may also be reported at once.
  uint64_t newStream(UpstreamResponseHandler& handler, PoolCallbacks& callbacks) override;
  // Withdraws a queued request; harmless for unknown tickets.
  void cancel(uint64_t ticket) override;
  // Requests attached to connections of this pool right now.
  uint32_t activeRequests() const { return active_requests_; }
  uint32_t pendingRequests() const { return static_cast<uint32_t>(pending_.size()); }
  // Closes idle connections (drain / shutdown).
  void closeIdle() override;

  // Called by connections.
  void onConnectionReady(Http1ClientConnection& connection);
  void onResponseComplete(Http1ClientConnection& connection, bool reusable);
  // `was_busy`: it carried a request; `connect_failure`: it never connected, and why.
  void onConnectionClosed(Http1ClientConnection& connection, bool was_busy,
                          std::optional<UpstreamFailure> connect_failure);

 private:
  struct Pending {
    uint64_t ticket;
    UpstreamResponseHandler* handler;
    PoolCallbacks* callbacks;
  };
  void assign(Http1ClientConnection& connection, Pending pending);
  void openConnection();
  std::unique_ptr<Http1ClientConnection> take(Http1ClientConnection& connection);
  void armIdleTimer();
  void closeExpiredIdle();

  event::Dispatcher& dispatcher_;
  const config::ClusterConfig& cluster_;
  event::SocketAddress endpoint_;
  stats::ClusterStats& stats_;
  std::list<std::unique_ptr<Http1ClientConnection>> connections_;
  std::deque<Http1ClientConnection*> idle_;  // back = most recently used
  std::deque<event::TimePoint> idle_since_;  // parallel to idle_
  std::deque<Pending> pending_;
  uint32_t connecting_ = 0;
  uint32_t active_requests_ = 0;
  uint64_t next_ticket_ = 1;
  event::Timer idle_timer_;
};

}  // namespace rampart::upstream
