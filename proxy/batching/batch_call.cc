#include "proxy/batching/batch_call.h"

namespace rampart::batching_engine {

BatchCall::BatchCall(event::Dispatcher& dispatcher, upstream::UpstreamCluster& cluster,
                     size_t endpoint, std::vector<filters::BatchRequest> members, size_t rows,
                     std::string path, std::string body, Done done)
    : dispatcher_(dispatcher),
      members_(std::move(members)),
      rows_(rows),
      body_(std::move(body)),
      attempt_(
          std::make_unique<router::UpstreamAttempt>(*this, dispatcher, cluster, endpoint, false)),
      done_(std::move(done)) {
  head_.method = "POST";
  head_.path = std::move(path);
  head_.headers.add("host", cluster.config().endpoints[endpoint].text);
  head_.headers.add("content-type", "application/json");
  head_.headers.add("x-rampart-batch-size", std::to_string(rows_));
  head_.content_length = body_.size();
}

void BatchCall::start(policy::Duration timeout) {
  start_ = dispatcher_.now();
  attempt_->sendData(body_, true);
  attempt_->start(head_);
  if (!finished_) attempt_->armTimeout(timeout);
}

void BatchCall::cancel() {
  finished_ = true;
  attempt_->cancel();
}

void BatchCall::onAttemptHeaders(router::UpstreamAttempt&, http::ResponseHead& head,
                                 bool end_stream) {
  status_ = head.status;
  if (end_stream)
    complete({false, {}, false, status_, std::move(response_), dispatcher_.now() - start_});
}

void BatchCall::onAttemptData(router::UpstreamAttempt&, event::Buffer& data, bool end_stream) {
  data.forEachChunk([&](std::string_view chunk) {
    response_.append(chunk);
    return true;
  });
  data.drain(data.length());
  if (end_stream)
    complete({false, {}, false, status_, std::move(response_), dispatcher_.now() - start_});
}

void BatchCall::onAttemptTrailers(router::UpstreamAttempt&, http::HeaderMap&) {
  complete({false, {}, false, status_, std::move(response_), dispatcher_.now() - start_});
}

void BatchCall::onAttemptFailure(router::UpstreamAttempt&, router::AttemptFailure failure) {
  complete({true, failure.failure, failure.timeout, 0, {}, dispatcher_.now() - start_});
}

void BatchCall::complete(BatchCallResult result) {
  if (finished_) return;
  finished_ = true;
  done_(*this, std::move(result));
}

}  // namespace rampart::batching_engine
