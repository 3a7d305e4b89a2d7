#pragma once
// A per-worker pool of multiplexed HTTP/2 connections to one endpoint: streams
// go to a ready connection with room, another connection opens when all are
// full (up to max_connections_per_endpoint), requests wait beyond that, and a
// connection that received GOAWAY takes no new streams and closes when empty.

#include <deque>
#include <list>
#include <memory>

#include "proxy/stats/stats.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/http2_client_connection.h"

namespace rampart::upstream {

class Http2Pool final : public ConnectionPool {
 public:
  Http2Pool(event::Dispatcher& dispatcher, const config::ClusterConfig& cluster,
            const event::SocketAddress& endpoint, stats::ClusterStats& stats);
  ~Http2Pool() override;

  uint64_t newStream(UpstreamResponseHandler& handler, PoolCallbacks& callbacks) override;
  void cancel(uint64_t ticket) override;
  void closeIdle() override;

  // Called by connections.
  void onConnectionReady(Http2ClientConnection& connection);
  void onStreamDone(Http2ClientConnection& connection);
  void onConnectionClosed(Http2ClientConnection& connection,
                          std::optional<UpstreamFailure> connect_failure);
  // The endpoint's SETTINGS_MAX_CONCURRENT_STREAMS as its connections last reported
  // it; a new connection uses it until its own SETTINGS arrive.
  void notePeerStreamLimit(uint32_t limit) { peer_stream_limit_ = limit; }
  uint32_t knownPeerStreamLimit() const { return peer_stream_limit_; }

 private:
  struct Pending {
    uint64_t ticket;
    UpstreamResponseHandler* handler;
    PoolCallbacks* callbacks;
  };
  Http2ClientConnection* withRoom();
  void openConnection();
  void assignPending();

  event::Dispatcher& dispatcher_;
  const config::ClusterConfig& cluster_;
  event::SocketAddress endpoint_;
  stats::ClusterStats& stats_;
  std::list<std::unique_ptr<Http2ClientConnection>> connections_;
  std::deque<Pending> pending_;
  uint32_t connecting_ = 0;
  uint32_t peer_stream_limit_;
  uint64_t next_ticket_ = 1;
};

}  // namespace rampart::upstream
