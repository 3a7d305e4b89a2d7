#pragma once
// The seam between the per-request batching filter (on a worker) and the
// route's batcher (on the batching thread, shared by all workers so batches do
// not shrink as workers are added). submit() is the only cross-thread call: it
// posts the request to the batcher's loop; the result comes back through
// `deliver`, which posts to the origin worker's loop.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "filters/batching/codecs/batch_codec.h"
#include "policy/time.h"

namespace rampart::filters {

// What the batcher answers for one request.
struct BatchResult {
  int status = 200;
  std::string body;
  std::string detail;  // for the log line: "batch=12 reason=full wait_ms=3.1"
};

struct BatchRequest {
  batching::BatchItem item;
  std::string path;  // the request's path (same for every member of a bucket)
  policy::TimePoint deadline;
  policy::TimePoint arrival;
  // Set by the origin worker when the client goes away; read by the batcher.
  std::shared_ptr<std::atomic<bool>> cancelled;
  // Called once on the batcher's thread; it must hand the result to the origin worker.
  std::function<void(BatchResult)> deliver;
};

class BatchSubmitter {
 public:
  virtual ~BatchSubmitter() = default;
  // Thread-safe: queues a request for the route's batcher.
  virtual void submit(BatchRequest request) = 0;
  // The route's codec (immutable, safe to use from any thread).
  virtual const batching::BatchCodec& codec() const = 0;
};

}  // namespace rampart::filters
