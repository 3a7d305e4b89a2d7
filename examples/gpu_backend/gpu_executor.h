#pragma once
// GpuExecutor: a simulated GPU that runs one batch at a time.
//
// Model: a job of batch size n occupies the device for cost(n) (base +
// per_item * n, scaled by the slow factor; the caller supplies the curve, read
// when the job *starts*, so runtime changes apply to the next batch). Jobs that
// arrive while the device is busy wait in a FIFO queue. Completion is an
// event-loop timer, never a sleep, so one thread serves every connection while
// the "GPU" is busy. Statistics record what the device actually executed.
//
// Thread sharing: none; everything runs on the loop thread.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>

#include "examples/gpu_backend/timer_set.h"

namespace rampart::gpu_backend {

// What the device has done since start or the last reset.
struct GpuStats {
  uint64_t batches = 0;                        // jobs executed to completion
  uint64_t items = 0;                          // sum of their batch sizes
  std::map<uint64_t, uint64_t> batchesBySize;  // batch size -> jobs of that size
  uint64_t maxQueue = 0;              // longest wait queue seen (excluding the running job)
  std::chrono::microseconds busy{0};  // total simulated execution time
};

class GpuExecutor {
 public:
  // The device time a batch of size n takes; read when the batch starts.
  using CostCurve = std::function<std::chrono::microseconds(uint64_t batchSize)>;
  // Called once when the job's execution time has elapsed.
  using Completion = std::function<void()>;

  // Runs jobs on `timers`' loop with the given cost curve.
  GpuExecutor(TimerSet& timers, CostCurve cost) : timers_(timers), cost_(std::move(cost)) {}

  // Queues a job (FIFO) and starts it at once when the device is idle.
  void submit(uint64_t batchSize, Completion done);
  // Jobs waiting plus the one executing.
  uint64_t inFlight() const { return queue_.size() + (busy_ ? 1 : 0); }
  // Jobs waiting behind the executing one.
  uint64_t queued() const { return queue_.size(); }
  // Counters since start or the last resetStats().
  const GpuStats& stats() const { return stats_; }
  // Zeroes the counters (jobs in flight still finish and are counted).
  void resetStats() { stats_ = GpuStats{}; }

 private:
  struct Job {
    uint64_t batchSize;
    Completion done;
  };
  void startNext();
  void finish(Job job, std::chrono::microseconds took);

  TimerSet& timers_;
  CostCurve cost_;
  std::deque<Job> queue_;
  bool busy_ = false;
  GpuStats stats_;
};

}  // namespace rampart::gpu_backend
