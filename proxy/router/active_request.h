#pragma once
// One request in flight. It runs the route's filter chain, then acts as the
// router: sends attempts to endpoints picked by the cluster's balancer, retries
// failures inside the retry budget with backoff (never past the deadline,
// never to the same endpoint while another exists), hedges slow attempts
// inside the hedge budget, commits the first good response and cancels the
// rest, and relays that response with backpressure both ways. The downstream
// codec owns it and answers through a DownstreamEncoder. Exactly one response
// is produced per request.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "filters/filter.h"
#include "policy/balancer.h"
#include "proxy/event/dispatcher.h"
#include "proxy/router/downstream_encoder.h"
#include "proxy/router/upstream_attempt.h"
#include "proxy/server/worker_context.h"

namespace rampart::router {

class ActiveRequest final : public AttemptOwner,
                            public filters::FilterCallbacks,
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
  // True once the last byte of the response was handed to the encoder.
  bool responseComplete() const { return response_complete_; }
  bool responseStarted() const { return response_started_; }
  int responseStatus() const { return response_status_; }

  // FilterCallbacks
  void continueDecoding() override;
  void sendLocalReply(int status, std::string_view code, std::string_view message,
                      std::vector<std::pair<std::string, std::string>> headers = {}) override;
  policy::TimePoint deadline() const override { return deadline_; }
  void annotate(std::string_view key, std::string value) override;
  const event::Buffer& bufferedBody() const override { return held_body_; }
  void setBodyBufferLimit(uint64_t bytes) override { held_limit_ = bytes; }
  void sendResponse(int status, std::vector<std::pair<std::string, std::string>> headers,
                    std::string body) override;
  std::string_view routeName() const override;

  // AttemptOwner
  void onAttemptHeaders(UpstreamAttempt& attempt, http::ResponseHead& head,
                        bool end_stream) override;
  void onAttemptData(UpstreamAttempt& attempt, event::Buffer& data, bool end_stream) override;
  void onAttemptTrailers(UpstreamAttempt& attempt, http::HeaderMap& trailers) override;
  void onAttemptFailure(UpstreamAttempt& attempt, AttemptFailure failure) override;
  bool onAttemptTimeout(UpstreamAttempt& attempt) override;
  void onAttemptWriteBlocked(UpstreamAttempt& attempt, bool blocked) override;

 private:
  // Why an attempt is considered failed, for the retry conditions.
  struct FailureCause {
    int status = 0;        // an HTTP status, or 0
    int grpc_status = -1;  // a grpc-status, or -1
    bool reset = false;
    bool connect_failure = false;
    bool timeout = false;
  };

  void runFilters();
  void startRouting();
  bool startAttempt(bool hedge);
  void feedAttempt(UpstreamAttempt& attempt, bool first);
  void onRequestComplete();
  void commit(UpstreamAttempt& attempt);
  void dropAttempt(UpstreamAttempt& attempt);
  void cancelAttempts(UpstreamAttempt* keep);
  size_t activeAttempts() const;
  bool retryableMethod() const;
  bool matchesRetryOn(const FailureCause& cause) const;
  bool mayRetry(const FailureCause& cause);
  bool retry_granted_ = false;  // onAttemptTimeout() already took a retry from the budget
  void scheduleRetry();
  void onHedgeTimer();
  void onDeadline();
  void failWith(const FailureCause& cause, upstream::UpstreamFailure failure);
  void computeDeadline();
  void setUpstreamDeadline();
  void updateDownstreamRead();
  void finish();
  stats::RouteStats& routeStats();
  stats::StatusClassCounters& responseCounters();

  server::WorkerContext& context_;
  DownstreamEncoder& encoder_;
  size_t listener_;
  http::RequestHead head_;
  std::string request_id_;
  std::optional<size_t> route_;
  RouteRuntime* runtime_ = nullptr;
  std::optional<size_t> route_cluster_;  // index into the route's cluster list
  upstream::UpstreamCluster* cluster_ = nullptr;
  std::vector<std::unique_ptr<filters::StreamFilter>> filters_;
  size_t next_filter_ = 0;
  filters::StreamFilter* stopped_filter_ = nullptr;  // the filter holding the chain
  uint64_t held_limit_ = 1024 * 1024;

  std::vector<std::unique_ptr<UpstreamAttempt>> attempts_;  // live attempts
  UpstreamAttempt* committed_ = nullptr;
  policy::TriedSet tried_;
  uint32_t attempts_started_ = 0;
  uint32_t retries_ = 0;
  uint32_t hedges_ = 0;
  bool hedge_won_ = false;
  std::string winner_endpoint_;

  event::Buffer held_body_;  // body received while the filter chain holds the request
  event::Buffer retained_;   // copy of the body kept for retries and hedges
  bool retaining_ = false;
  bool routing_started_ = false;
  bool expect_continue_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool held_blocked_ = false;
  bool attempt_write_blocked_ = false;
  bool upstream_timed_out_ = false;
  bool local_reply_ = false;
  int response_status_ = 0;
  std::string failure_reason_;
  std::vector<std::pair<std::string, std::string>> annotations_;
  event::TimePoint start_;
  event::TimePoint deadline_ = event::TimePoint::max();
  event::Timer deadline_timer_;
  event::Timer hedge_timer_;
  event::Timer retry_timer_;
  event::Timer continue_timer_;
};

}  // namespace rampart::router
