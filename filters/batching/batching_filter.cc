#include "filters/batching/batching_filter.h"

namespace rampart::filters {

BatchingFilter::BatchingFilter(BatchSubmitter& submitter, event::Dispatcher& dispatcher,
                               stats::RouteStats& stats, uint64_t max_body_bytes)
    : submitter_(submitter),
      dispatcher_(dispatcher),
      stats_(stats),
      max_body_bytes_(max_body_bytes) {}

BatchingFilter::~BatchingFilter() {
  detach();
}

FilterStatus BatchingFilter::decodeHeaders(http::RequestHead& head, bool end_stream) {
  if (head.method != "POST" || end_stream) {
    stats_.batch_passthrough_total.inc();
    return FilterStatus::Continue;
  }
  path_ = head.path;
  // The codec needs the whole body: hold it (the downstream limit still applies).
  callbacks_->setBodyBufferLimit(max_body_bytes_);
  return FilterStatus::StopIteration;
}

void BatchingFilter::decodeData(std::string_view, bool end_stream) {
  if (!end_stream) return;
  const std::string body = callbacks_->bufferedBody().toString();
  batching::ParseOutcome outcome = submitter_.codec().parse(path_, body);
  switch (outcome.kind) {
    case batching::ParseOutcome::Kind::PassThrough:
      stats_.batch_passthrough_total.inc();
      callbacks_->annotate("batch", "passthrough: " + outcome.reason);
      callbacks_->continueDecoding();
      return;
    case batching::ParseOutcome::Kind::Invalid:
      callbacks_->annotate("batch", "invalid");
      callbacks_->sendResponse(400, {{"content-type", "application/json"}},
                               submitter_.codec().errorBody(400, outcome.reason));
      return;
    case batching::ParseOutcome::Kind::Batchable:
      break;
  }
  handle_ = std::make_shared<Handle>();
  handle_->filter = this;
  std::weak_ptr<Handle> weak = handle_;
  event::Dispatcher* dispatcher = &dispatcher_;
  BatchRequest request;
  request.item = std::move(*outcome.item);
  request.path = path_;
  request.deadline = callbacks_->deadline();
  request.arrival = dispatcher_.now();
  request.cancelled = handle_->cancelled;
  // Runs on the batcher's thread: hop back to this worker before touching the filter.
  request.deliver = [dispatcher, weak](BatchResult result) {
    dispatcher->post([weak, result = std::move(result)]() mutable {
      if (auto handle = weak.lock(); handle && handle->filter)
        handle->filter->onResult(std::move(result));
    });
  };
  submitter_.submit(std::move(request));
}

void BatchingFilter::onResult(BatchResult result) {
  handle_.reset();
  if (result.status < 400) stats_.batched_requests_total.inc();
  callbacks_->annotate("batch", result.detail);
  callbacks_->sendResponse(result.status, {{"content-type", "application/json"}},
                           std::move(result.body));
}

void BatchingFilter::onComplete(const RequestOutcome&) {
  detach();
}

void BatchingFilter::detach() {
  if (!handle_) return;
  handle_->filter = nullptr;
  handle_->cancelled->store(true, std::memory_order_relaxed);
  handle_.reset();
}

}  // namespace rampart::filters
