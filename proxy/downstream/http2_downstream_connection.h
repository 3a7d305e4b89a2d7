#pragma once
// One HTTP/2 client connection (h2c with prior knowledge, or h2 chosen by ALPN):
// an nghttp2 server codec plus one stream object per request, each owning its
// ActiveRequest and answering through the DownstreamEncoder seam. Flow control
// is end to end: request DATA is acknowledged (WINDOW_UPDATE) only once it was
// handed upstream, and a stream whose response queue is full pauses its upstream.

#include <memory>
#include <string>
#include <unordered_map>

#include "proxy/downstream/downstream_connection.h"
#include "proxy/event/connection.h"
#include "proxy/http/http2_codec.h"
#include "proxy/router/active_request.h"
#include "proxy/server/worker_context.h"

namespace rampart::downstream {

class Http2DownstreamConnection final : public DownstreamConnection,
                                        public event::ConnectionCallbacks,
                                        public http::Http2Callbacks {
 public:
  Http2DownstreamConnection(server::WorkerContext& context, ConnectionOwner& owner, size_t listener,
                            std::unique_ptr<event::BufferedConnection> socket,
                            const http::Http2Limits& limits);
  ~Http2DownstreamConnection() override;

  void drain() override;
  size_t listener() const override { return listener_; }

  // ConnectionCallbacks
  void onRead() override;
  void onWriteDrained() override;
  void onClose(event::CloseReason reason) override;

  // Http2Callbacks
  void onRequestHeaders(int32_t stream, http::RequestHead& head, bool end_stream) override;
  void onData(int32_t stream, std::string_view data, bool end_stream) override;
  void onTrailers(int32_t stream, http::HeaderMap& trailers) override;
  void onStreamClosed(int32_t stream, uint32_t error_code) override;
  void onProtocolError(http::Http2ProtocolError kind) override;
  void onStreamWritable(int32_t stream) override;
  void onRequestRejected(int32_t stream, int status) override;

 private:
  class Stream;
  friend class Stream;
  // Writes what the codec wants to send, up to the socket's watermark.
  void flush();
  void closeWhenFlushed();
  void close();
  void maybeFinishDrain();
  void sendFinalGoaway();
  void onIdleTimeout();

  server::WorkerContext& context_;
  ConnectionOwner& owner_;
  size_t listener_;
  stats::ListenerStats& stats_;
  std::unique_ptr<event::BufferedConnection> socket_;
  http::Http2Codec codec_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  event::Timer idle_timer_;
  event::Timer stall_timer_;
  event::Timer final_goaway_timer_;
  std::string scratch_;
  std::string peer_host_;
  std::string peer_identity_;
  size_t input_seen_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  bool draining_ = false;
  bool final_goaway_sent_ = false;
};

}  // namespace rampart::downstream
