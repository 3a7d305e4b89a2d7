#include "examples/gpu_backend/gpu_executor.h"

#include <algorithm>
#include <utility>

namespace rampart::gpu_backend {

void GpuExecutor::submit(uint64_t batchSize, Completion done) {
  queue_.push_back(Job{batchSize, std::move(done)});
  if (!busy_) {
    startNext();
  } else {
    stats_.maxQueue = std::max<uint64_t>(stats_.maxQueue, queue_.size());
  }
}

void GpuExecutor::startNext() {
  if (queue_.empty()) {
    busy_ = false;
    return;
  }
  busy_ = true;
  Job job = std::move(queue_.front());
  queue_.pop_front();
  const std::chrono::microseconds took = cost_(job.batchSize);
  timers_.after(took,
                [this, job = std::move(job), took]() mutable { finish(std::move(job), took); });
}

void GpuExecutor::finish(Job job, std::chrono::microseconds took) {
  stats_.batches += 1;
  stats_.items += job.batchSize;
  stats_.batchesBySize[job.batchSize] += 1;
  stats_.busy += took;
  // Start the next batch before answering, so the device never idles while the
  // response is written (as a real server's scheduler would).
  startNext();
  job.done();
}

}  // namespace rampart::gpu_backend
