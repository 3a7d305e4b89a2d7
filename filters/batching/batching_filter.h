#pragma once
// Batching: a POST on a batching route is held until its body is complete,
// parsed by the route's codec, and — when batchable — handed to the route's
// batcher, which answers with this caller's own rows. Requests that cannot be
// batched pass through unbatched; malformed ones get 400.

#include <atomic>
#include <memory>

#include "filters/batching/batch_submitter.h"
#include "filters/filter.h"
#include "proxy/event/dispatcher.h"
#include "proxy/stats/stats.h"

namespace rampart::filters {

class BatchingFilter final : public StreamFilter {
 public:
  BatchingFilter(BatchSubmitter& submitter, event::Dispatcher& dispatcher, stats::RouteStats& stats,
                 uint64_t max_body_bytes);
  ~BatchingFilter() override;

  void setCallbacks(FilterCallbacks& callbacks) override { callbacks_ = &callbacks; }
  FilterStatus decodeHeaders(http::RequestHead& head, bool end_stream) override;
  void decodeData(std::string_view data, bool end_stream) override;
  void onComplete(const RequestOutcome& outcome) override;

 private:
  // Lets a result posted back from the batcher find this filter, or learn it is gone.
  struct Handle {
    BatchingFilter* filter;  // touched only on the origin worker
    std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  };
  void onResult(BatchResult result);
  void detach();

  BatchSubmitter& submitter_;
  event::Dispatcher& dispatcher_;
  stats::RouteStats& stats_;
  uint64_t max_body_bytes_;
  FilterCallbacks* callbacks_ = nullptr;
  std::string path_;
  std::shared_ptr<Handle> handle_;
};

class BatchingFilterFactory final : public FilterFactory {
 public:
  BatchingFilterFactory(BatchSubmitter& submitter, event::Dispatcher& dispatcher,
                        stats::RouteStats& stats, uint64_t max_body_bytes)
      : submitter_(submitter),
        dispatcher_(dispatcher),
        stats_(stats),
        max_body_bytes_(max_body_bytes) {}
  std::unique_ptr<StreamFilter> create() override {
    return std::make_unique<BatchingFilter>(submitter_, dispatcher_, stats_, max_body_bytes_);
  }

 private:
  BatchSubmitter& submitter_;
  event::Dispatcher& dispatcher_;
  stats::RouteStats& stats_;
  uint64_t max_body_bytes_;
};

}  // namespace rampart::filters
