#pragma once
// One request in flight: matches its route, sends it to an upstream endpoint,
// enforces the route timeout, and relays the response back with backpressure
// both ways. The downstream codec owns it and feeds it the request; it answers
// through a DownstreamEncoder. Exactly one response is produced per request.

#include <memory>
#include <optional>
#include <string>

#include "proxy/event/dispatcher.h"
#include "proxy/router/downstream_encoder.h"
#include "proxy/server/worker_context.h"
#include "proxy/upstream/upstream_stream.h"

namespace rampart::router {

class ActiveRequest final : public upstream::UpstreamResponseHandler,
                            public upstream::PoolCallbacks,
                            public event::Deletable {
 public:
  ActiveRequest(server::WorkerContext& context, DownstreamEncoder& encoder, size_t listener);
  ~ActiveRequest() override;
  ActiveRequest(const ActiveRequest&) = delete;
  ActiveRequest& operator=(const ActiveRequest&) = delete;

  // The request head arrived; end_stream when there is no body.
  void decodeHeaders(http::RequestHead&& head, bool end_stream);
  // A piece of the request body; end_stream on the last one.
  void decodeData(std::string_view data, bool end_stream);
  // The client went away or the downstream codec gave up: abandon everything quietly.
  void onDownstreamReset();
  // The client reads slower than the upstream sends (true) / caught up (false).
  void onDownstreamWriteBlocked(bool blocked);
  // Answers with a locally generated error, when no response was started yet.
  void sendLocalReply(int status, std::string_view code, std::string_view message);
  // True once the last byte of the response was handed to the encoder.
  bool responseComplete() const { return response_complete_; }
  bool responseStarted() const { return response_started_; }
  int responseStatus() const { return response_status_; }

  // UpstreamResponseHandler
  void onUpstreamHeaders(http::ResponseHead& head, bool end_stream) override;
  void onUpstreamData(event::Buffer& data, bool end_stream) override;
  void onUpstreamTrailers(http::HeaderMap& trailers) override;
  void onUpstreamFailure(upstream::UpstreamFailure failure) override;
  void onUpstreamWriteBlocked(bool blocked) override;

  // PoolCallbacks
  void onPoolReady(upstream::UpstreamStream& stream) override;
  void onPoolFailure(upstream::UpstreamFailure failure) override;

 private:
  void startUpstream();
  void onRouteTimeout();
  void releaseUpstream(bool reset);
  // Pauses the client while the body buffer is full or the upstream is not reading.
  void updateDownstreamRead();
  // Records metrics and the access log once the response is complete.
  void finish();
  stats::RouteStats& routeStats();
  stats::StatusClassCounters& responseCounters();

  server::WorkerContext& context_;
  DownstreamEncoder& encoder_;
  size_t listener_;
  http::RequestHead head_;
  std::optional<size_t> route_;
  std::optional<size_t> route_cluster_;  // index into the route's cluster list
  upstream::UpstreamCluster* cluster_ = nullptr;
  std::optional<size_t> endpoint_;
  std::string request_id_;

  upstream::UpstreamStream* upstream_ = nullptr;
  uint64_t pool_ticket_ = 0;
  event::Buffer pending_body_;  // request body received before the upstream was ready
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool pending_blocked_ = false;
  bool upstream_write_blocked_ = false;
  int response_status_ = 0;
  std::string failure_reason_;  // why a local reply was sent, for logs
  event::TimePoint start_;
  event::TimePoint upstream_start_;
  event::Timer route_timer_;
};

}  // namespace rampart::router
