#pragma once
// StaticBatchWindow: the hand-tuned baseline, Triton's dynamic batcher rule.
// A bucket is sent when it holds max_batch_size rows, or when its oldest row
// has waited max_delay — and only while a backend slot is free (requests that
// arrive while every slot is busy grow the next batch). Nothing is learned:
// this is what an operator gets from a sweep of (max_batch_size, max_delay).
//
// Thread sharing: none; one per bucket, like BatchWindowController.

#include <cstddef>

#include "policy/batch_window.h"

namespace rampart::policy {

class StaticBatchWindow {
 public:
  StaticBatchWindow(std::size_t max_batch_size, Duration max_delay)
      : max_batch_size_(max_batch_size), max_delay_(max_delay) {}

  // Decides for one bucket (same contract as BatchWindowController::decide).
  BatchDecision decide(TimePoint now, const PendingBucket& bucket,
                       const BackendLoad& backend) const {
    if (bucket.rows == 0 || backend.in_flight >= backend.capacity)
      return WaitUntil{TimePoint::max()};
    if (bucket.rows >= max_batch_size_) return Dispatch{max_batch_size_, DispatchReason::Full};
    const TimePoint due = bucket.oldest_arrival + max_delay_;
    if (now >= due) return Dispatch{bucket.rows, DispatchReason::WindowExpired};
    return WaitUntil{due};
  }

 private:
  std::size_t max_batch_size_;
  Duration max_delay_;
};

}  // namespace rampart::policy
