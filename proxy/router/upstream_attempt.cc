#include "proxy/router/upstream_attempt.h"

namespace rampart::router {

namespace {
// Body queued before the connection is ready; beyond it the client is paused.
constexpr size_t kMaxPendingBody = 1024 * 1024;
}  // namespace

UpstreamAttempt::UpstreamAttempt(AttemptOwner& owner, event::Dispatcher& dispatcher,
                                 upstream::UpstreamCluster& cluster, size_t endpoint, bool hedge)
    : owner_(owner),
      dispatcher_(dispatcher),
      cluster_(cluster),
      endpoint_(endpoint),
      hedge_(hedge),
      timer_(dispatcher, [this] { onTimeout(); }) {}

UpstreamAttempt::~UpstreamAttempt() {
  cancel();
}

void UpstreamAttempt::start(const http::RequestHead& head) {
  head_ = &head;
  start_ = dispatcher_.now();
  cluster_.onAttemptStart(endpoint_);
  cluster_.stats().upstream_requests_total.inc();
  pool_ticket_ = cluster_.pool(endpoint_).newStream(*this, *this);
}

void UpstreamAttempt::sendData(std::string_view data, bool end_stream) {
  if (done_) return;
  body_bytes_ += data.size();
  pending_.add(data);
  if (end_stream) end_received_ = true;
  if (stream_) {
    stream_->encodeData(pending_, end_stream);
  } else if (pending_.length() > kMaxPendingBody && !pending_blocked_) {
    pending_blocked_ = true;
    owner_.onAttemptWriteBlocked(*this, true);
  }
}

void UpstreamAttempt::armTimeout(event::Duration timeout) {
  if (done_ || headers_received_) return;
  timeout_ = timeout;
  timer_.enable(timeout);
}

void UpstreamAttempt::onPoolReady(upstream::UpstreamStream& stream) {
  pool_ticket_ = 0;
  stream_ = &stream;
  const bool headers_only = end_received_ && pending_.empty();
  stream_->encodeHeaders(*head_, headers_only);
  if (!headers_only && stream_ && (!pending_.empty() || end_received_)) {
    stream_->encodeData(pending_, end_received_);
  }
  if (pending_blocked_) {
    pending_blocked_ = false;
    owner_.onAttemptWriteBlocked(*this, false);
  }
}

void UpstreamAttempt::onPoolFailure(upstream::UpstreamFailure failure) {
  pool_ticket_ = 0;
  onUpstreamFailure(failure);
}

void UpstreamAttempt::onUpstreamHeaders(http::ResponseHead& head, bool end_stream) {
  timer_.disable();
  headers_received_ = true;
  report(head.status >= 500 ? upstream::AttemptResult::Failure : upstream::AttemptResult::Success,
         dispatcher_.now() - start_);
  if (end_stream) {
    stream_ = nullptr;
    done();
  }
  owner_.onAttemptHeaders(*this, head, end_stream);
}

void UpstreamAttempt::onUpstreamData(event::Buffer& data, bool end_stream) {
  if (end_stream) {
    stream_ = nullptr;
    done();
  }
  owner_.onAttemptData(*this, data, end_stream);
}

void UpstreamAttempt::onUpstreamTrailers(http::HeaderMap& trailers) {
  stream_ = nullptr;
  done();
  owner_.onAttemptTrailers(*this, trailers);
}

void UpstreamAttempt::onUpstreamFailure(upstream::UpstreamFailure failure) {
  stream_ = nullptr;
  timer_.disable();
  report(upstream::AttemptResult::Failure, dispatcher_.now() - start_);
  done();
  owner_.onAttemptFailure(*this, AttemptFailure{false, failure});
}

void UpstreamAttempt::onUpstreamWriteBlocked(bool blocked) {
  owner_.onAttemptWriteBlocked(*this, blocked);
}

void UpstreamAttempt::onTimeout() {
  if (done_) return;
  // A timeout is evidence of slowness whatever happens next.
  report(upstream::AttemptResult::TimedOut, timeout_);
  // Abandon the attempt only when something better will be tried: cancelling work the
  // upstream already queued, with no retry to replace it, only turns a slow answer into none.
  if (!owner_.onAttemptTimeout(*this)) return;
  cancel();
  owner_.onAttemptFailure(*this, AttemptFailure{true, {}});
}

void UpstreamAttempt::readDisable(bool disable) {
  if (stream_) stream_->readDisable(disable);
}

void UpstreamAttempt::cancel() {
  timer_.disable();
  if (pool_ticket_ != 0) {
    cluster_.pool(endpoint_).cancel(pool_ticket_);
    pool_ticket_ = 0;
  }
  if (stream_) {
    upstream::UpstreamStream* stream = stream_;
    stream_ = nullptr;
    stream->reset();
  }
  report(upstream::AttemptResult::Cancelled, {});
  done();
}

void UpstreamAttempt::report(upstream::AttemptResult result, event::Duration latency) {
  if (reported_ || head_ == nullptr) return;
  reported_ = true;
  cluster_.onAttemptResult(endpoint_, result, latency);
}

void UpstreamAttempt::done() {
  if (done_ || head_ == nullptr) return;
  done_ = true;
  cluster_.onAttemptDone(endpoint_);
}

}  // namespace rampart::router
