#pragma once
// One HTTP/1.1 connection to an upstream endpoint. It carries one request at a
// time for whichever router attempt it is attached to, and goes back to its
// pool when a response ends cleanly and both sides allow keep-alive.

#include <memory>
#include <string>

#include "proxy/event/connection.h"
#include "proxy/http/http1_codec.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/upstream_stream.h"

namespace rampart::upstream {

class Http1Pool;

class Http1ClientConnection final : public UpstreamStream,
                                    public event::ConnectionCallbacks,
                                    public http::Http1ParserCallbacks,
                                    public event::Deletable {
 public:
  enum class State {
    Connecting,  // TCP connect in progress
    Idle,        // in the pool, no request
    Busy,        // attached to an attempt
    Closed,      // finished; waiting for deferred deletion
  };

  Http1ClientConnection(Http1Pool& pool, event::Dispatcher& dispatcher,
                        std::unique_ptr<event::BufferedConnection> socket,
                        stats::ClusterStats& stats, event::Duration connect_timeout);
  ~Http1ClientConnection() override;

  // Binds the connection to an attempt; the response goes to `handler`.
  void attach(UpstreamResponseHandler& handler);
  State state() const { return state_; }
  // Requests sent on this connection so far (>0 means it is a reused connection).
  uint64_t requestsSent() const { return requests_sent_; }
  // Closes the socket and marks the connection Closed (the pool forgets it). While
  // still connecting, `if_connecting` tells the pool why the connect failed.
  void close(UpstreamFailure if_connecting = UpstreamFailure::ConnectFailed);

  // UpstreamStream
  void encodeHeaders(const http::RequestHead& head, bool end_stream) override;
  void encodeData(event::Buffer& data, bool end_stream) override;
  void reset() override;
  void readDisable(bool disable) override;

  // ConnectionCallbacks
  void onRead() override;
  void onWriteDrained() override;
  void onConnected() override;
  void onClose(event::CloseReason reason) override;

  // Http1ParserCallbacks
  http::HeadersAction onResponseHead(http::ResponseHead& head) override;
  void onBody(std::string_view data) override;
  void onMessageComplete() override;

 private:
  void fail(UpstreamFailure failure);
  void finishResponse();
  void checkWriteBlocked();

  Http1Pool& pool_;
  event::Dispatcher& dispatcher_;
  std::unique_ptr<event::BufferedConnection> socket_;
  stats::ClusterStats& stats_;
  http::Http1Parser parser_;
  event::Timer connect_timer_;
  State state_ = State::Connecting;
  UpstreamResponseHandler* handler_ = nullptr;

  // Per-request state, reset by attach().
  bool request_is_head_ = false;
  bool request_chunked_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;  // any response byte seen
  bool response_head_sent_ = false;
  bool interim_response_ = false;
  bool response_keep_alive_ = true;
  bool response_complete_ = false;
  bool write_blocked_ = false;
  uint64_t requests_sent_ = 0;
  size_t input_seen_ = 0;     // input bytes already counted in the byte metric
  event::Buffer body_chunk_;  // reused for handing body pieces to the handler
  std::string scratch_;       // reused for serializing heads
};

}  // namespace rampart::upstream
