#pragma once
// A per-worker pool of connections to one endpoint that hands out upstream
// streams: an HTTP/1.1 connection per request, or a stream on a multiplexed
// HTTP/2 connection. The router sees only this interface.

#include <cstdint>
#include <memory>

#include "proxy/config/config.h"
#include "proxy/event/connection.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/upstream_stream.h"

namespace rampart::upstream {

class ConnectionPool {
 public:
  virtual ~ConnectionPool() = default;
  // Asks for a stream for one request. Calls callbacks.onPoolReady() at once when one is
  // available (returns 0), or later (returns a ticket for cancel()). Failures may be immediate.
  virtual uint64_t newStream(UpstreamResponseHandler& handler, PoolCallbacks& callbacks) = 0;
  // Withdraws a queued request; harmless for unknown tickets.
  virtual void cancel(uint64_t ticket) = 0;
  // Closes connections with no request in flight (drain / shutdown).
  virtual void closeIdle() = 0;
};

// Opens a socket to `endpoint` for `cluster`: plaintext, or TLS with the cluster's context.
std::unique_ptr<event::BufferedConnection> connectUpstream(event::Dispatcher& dispatcher,
                                                           const config::ClusterConfig& cluster,
                                                           const event::SocketAddress& endpoint);

// Makes the pool for the cluster's protocol.
std::unique_ptr<ConnectionPool> makePool(event::Dispatcher& dispatcher,
                                         const config::ClusterConfig& cluster,
                                         const event::SocketAddress& endpoint,
                                         stats::ClusterStats& stats);

}  // namespace rampart::upstream
