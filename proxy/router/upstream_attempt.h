#pragma once
// One attempt of a request to one endpoint: waits for a pooled connection,
// sends the head and body, enforces its own timeout, and reports the response
// (or why there is none) to its owner, the ActiveRequest that decides between
// retrying, hedging and committing. It tells the cluster what the attempt
// showed about the endpoint, exactly once.

#include <memory>
#include <string_view>

#include "proxy/event/dispatcher.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/upstream_stream.h"

namespace rampart::router {

class UpstreamAttempt;

// Why an attempt produced no usable response head.
struct AttemptFailure {
  bool timeout = false;                 // the per-attempt timeout expired
  upstream::UpstreamFailure failure{};  // otherwise: what the upstream side reported
};

class AttemptOwner {
 public:
  virtual ~AttemptOwner() = default;
  virtual void onAttemptHeaders(UpstreamAttempt& attempt, http::ResponseHead& head,
                                bool end_stream) = 0;
  virtual void onAttemptData(UpstreamAttempt& attempt, event::Buffer& data, bool end_stream) = 0;
  virtual void onAttemptTrailers(UpstreamAttempt& attempt, http::HeaderMap& trailers) = 0;
  // No further calls follow for this attempt.
  virtual void onAttemptFailure(UpstreamAttempt& attempt, AttemptFailure failure) = 0;
  // The attempt's timeout expired: true abandons it (onAttemptFailure follows), false keeps
  // waiting for its answer (the request's deadline still applies).
  virtual bool onAttemptTimeout(UpstreamAttempt& attempt) { return true; }
  virtual void onAttemptWriteBlocked(UpstreamAttempt& attempt, bool blocked) = 0;
};

class UpstreamAttempt final : public upstream::UpstreamResponseHandler,
                              public upstream::PoolCallbacks,
                              public event::Deletable {
 public:
  UpstreamAttempt(AttemptOwner& owner, event::Dispatcher& dispatcher,
                  upstream::UpstreamCluster& cluster, size_t endpoint, bool hedge);
  ~UpstreamAttempt() override;

  // Asks the endpoint's pool for a connection and sends `head` (kept alive by the owner).
  void start(const http::RequestHead& head);
  // Sends body bytes (copied), buffering them until the connection is ready.
  void sendData(std::string_view data, bool end_stream);
  // Fails the attempt with a timeout after `timeout` unless a response head came first.
  void armTimeout(event::Duration timeout);
  // Abandons the attempt (hedge lost, client gone, deadline): no callbacks follow.
  void cancel();
  // Pauses reading the response (downstream backpressure).
  void readDisable(bool disable);

  size_t endpoint() const { return endpoint_; }
  bool hedge() const { return hedge_; }
  bool headersReceived() const { return headers_received_; }
  event::TimePoint startTime() const { return start_; }
  // Bytes of request body sent or queued so far.
  uint64_t bodyBytes() const { return body_bytes_; }

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
  void onTimeout();
  void report(upstream::AttemptResult result, event::Duration latency);
  void done();

  AttemptOwner& owner_;
  event::Dispatcher& dispatcher_;
  upstream::UpstreamCluster& cluster_;
  size_t endpoint_;
  bool hedge_;
  const http::RequestHead* head_ = nullptr;
  event::TimePoint start_;
  upstream::UpstreamStream* stream_ = nullptr;
  uint64_t pool_ticket_ = 0;
  event::Buffer pending_;  // body received before the connection was ready
  bool end_received_ = false;
  bool headers_received_ = false;
  bool reported_ = false;
  bool done_ = false;
  bool pending_blocked_ = false;
  uint64_t body_bytes_ = 0;
  event::Duration timeout_{};
  event::Timer timer_;
};

}  // namespace rampart::router
