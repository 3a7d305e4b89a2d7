#pragma once
// One merged upstream call of a batch: sends the merged body to an endpoint
// through an UpstreamAttempt, collects the whole response, and hands status,
// body and latency back to its RouteBatcher. Runs on the batching thread.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "filters/batching/batch_submitter.h"
#include "proxy/router/upstream_attempt.h"

namespace rampart::batching_engine {

struct BatchCallResult {
  bool transport_failed = false;        // no response: connect failure, reset, timeout
  upstream::UpstreamFailure failure{};  // when transport_failed and not a timeout
  bool timeout = false;
  int status = 0;
  std::string body;
  policy::Duration latency{};
};

class BatchCall final : public router::AttemptOwner, public event::Deletable {
 public:
  using Done = std::function<void(BatchCall&, BatchCallResult)>;
  BatchCall(event::Dispatcher& dispatcher, upstream::UpstreamCluster& cluster, size_t endpoint,
            std::vector<filters::BatchRequest> members, size_t rows, std::string path,
            std::string body, Done done);
  // Sends the call; `timeout` bounds the wait for the response head.
  void start(policy::Duration timeout);
  std::vector<filters::BatchRequest>& members() { return members_; }
  size_t rows() const { return rows_; }
  // Abandons the call (shutdown).
  void cancel();

  void onAttemptHeaders(router::UpstreamAttempt&, http::ResponseHead& head,
                        bool end_stream) override;
  void onAttemptData(router::UpstreamAttempt&, event::Buffer& data, bool end_stream) override;
  void onAttemptTrailers(router::UpstreamAttempt&, http::HeaderMap&) override;
  void onAttemptFailure(router::UpstreamAttempt&, router::AttemptFailure failure) override;
  void onAttemptWriteBlocked(router::UpstreamAttempt&, bool) override {}

 private:
  void complete(BatchCallResult result);

  event::Dispatcher& dispatcher_;
  std::vector<filters::BatchRequest> members_;
  size_t rows_;
  http::RequestHead head_;
  std::string body_;
  std::unique_ptr<router::UpstreamAttempt> attempt_;
  Done done_;
  int status_ = 0;
  std::string response_;
  policy::TimePoint start_{};
  bool finished_ = false;
};

}  // namespace rampart::batching_engine
