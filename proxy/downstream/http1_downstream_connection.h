#pragma once
// One HTTP/1.1 client connection: parses requests with llhttp, runs one
// ActiveRequest at a time (pipelined requests wait in the input buffer and are
// answered in order), frames responses (content-length, chunked or
// close-delimited), and enforces the client limits and timeouts.

#include <memory>
#include <string>

#include "proxy/downstream/downstream_connection.h"
#include "proxy/event/connection.h"
#include "proxy/http/http1_codec.h"
#include "proxy/router/active_request.h"
#include "proxy/router/downstream_encoder.h"
#include "proxy/server/worker_context.h"

namespace rampart::downstream {

class Http1DownstreamConnection final : public DownstreamConnection,
                                        public event::ConnectionCallbacks,
                                        public http::Http1ParserCallbacks,
                                        public router::DownstreamEncoder {
 public:
  Http1DownstreamConnection(server::WorkerContext& context, ConnectionOwner& owner, size_t listener,
                            std::unique_ptr<event::BufferedConnection> socket);
  ~Http1DownstreamConnection() override;

  // Drain: close now when idle, otherwise after the current response.
  void drain() override;
  bool idle() const { return !request_; }
  size_t listener() const override { return listener_; }

  // ConnectionCallbacks
  void onRead() override;
  void onWriteDrained() override;
  void onClose(event::CloseReason reason) override;

  // Http1ParserCallbacks
  http::HeadersAction onRequestHead(http::RequestHead& head) override;
  void onBody(std::string_view data) override;
  void onMessageComplete() override;

  // DownstreamEncoder
  void encodeHeaders(http::ResponseHead& head, bool end_stream) override;
  void encodeData(event::Buffer& data, bool end_stream) override;
  void encodeTrailers(http::HeaderMap& trailers) override;
  void encode100Continue() override;
  void readDisable(bool disable) override;
  void resetStream() override;
  const event::SocketAddress& peer() const override { return socket_->peer(); }
  std::string_view peerHost() const override { return peer_host_; }
  std::string_view peerIdentity() const override { return peer_identity_; }
  std::string_view identityHeader() const override;
  std::string_view protocol() const override { return "http/1.1"; }

 private:
  // Parses buffered input until a request is complete, an error, or a pause.
  void processInput();
  void onParseError();
  void onResponseComplete();
  // Starts the next request, or closes, once both the request and its response are done.
  void finishExchange();
  void finishClose();
  // Answers without an ActiveRequest (errors before or outside a request), then closes.
  void sendErrorAndClose(int status, std::string_view code);
  void closeAfterFlush();
  void close();
  void onHeaderTimeout();
  void onIdleTimeout();
  void checkWriteBlocked();

  server::WorkerContext& context_;
  ConnectionOwner& owner_;
  size_t listener_;
  stats::ListenerStats& stats_;
  std::unique_ptr<event::BufferedConnection> socket_;
  http::Http1Parser parser_;
  std::unique_ptr<router::ActiveRequest> request_;
  event::Timer header_timer_;  // a request head must arrive in time
  event::Timer idle_timer_;    // keep-alive wait, and stalls mid-body
  event::Timer resume_timer_;  // parses pipelined input after a response, outside callbacks

  // Per-request state.
  bool request_received_ = false;  // the whole request (head and body) was parsed
  bool request_has_body_ = false;
  bool request_is_head_ = false;
  bool client_http10_ = false;
  uint64_t body_bytes_ = 0;
  bool chunked_response_ = false;
  bool response_no_body_ = false;
  bool read_disabled_by_request_ = false;
  bool write_blocked_ = false;

  // Connection state.
  bool close_after_response_ = false;
  bool closing_ = false;  // flushing the last bytes before close
  bool closed_ = false;
  bool peer_closed_ = false;
  bool bytes_seen_ = false;  // any byte of the current request arrived
  bool lingering_ = false;   // half-closed after an early answer, discarding input
  bool in_parse_ = false;    // inside Http1Parser::execute()
  bool response_done_ = false;
  size_t input_seen_ = 0;  // input bytes already counted in the byte metric
  uint32_t requests_ = 0;
  std::string scratch_;
  std::string peer_host_;
  std::string peer_identity_;
};

}  // namespace rampart::downstream
