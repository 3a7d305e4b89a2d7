#pragma once
// PeakEwma: a per-endpoint latency estimate for load balancing.
//
// Algorithm (Finagle / Linkerd peak EWMA, decay τ = 10 s, start 30 ms): on a
// sample rtt at time t, with Δt the time since the last sample,
//     if rtt > estimate:  estimate = rtt                      (jump to peaks)
//     else:               estimate = w·estimate + (1 − w)·rtt,  w = exp(−Δt/τ)
// and when read, the estimate decays towards 0 by the same w for the time
// since the last sample, so an idle endpoint's stale peak fades and it gets
// probed again. The balancer's cost is estimate × (outstanding + 1).
//
// The fix: Linkerd's estimate treats a fast failure (an instant 503, a
// refused connection) as a cheap, fast sample, so a broken endpoint that
// fails in 1 ms attracts more traffic and retries (linkerd2 #11669). Here a
// failure is recorded as an expensive sample:
//     penalty = max(rtt, min(penalty_cap, max(penalty_floor, failure_multiplier × estimate)))
// (defaults 5×, floor 1 s, cap 10 s), applied with the peak rule above, so
// one failure makes the endpoint look at least 1 s slow, repeated failures
// keep it expensive, and the normal decay lets it back in to be probed.
//
// Thread sharing: none. One instance per endpoint per worker.

#include <cstdint>

#include "policy/time.h"

namespace rampart::policy {

struct PeakEwmaConfig {
  Duration decay = std::chrono::seconds(10);         // τ of the exponential decay
  Duration initial = std::chrono::milliseconds(30);  // estimate before any sample
  double failure_multiplier = 5.0;                   // failure cost relative to estimate
  Duration penalty_floor = std::chrono::seconds(1);  // least cost of one failure
  Duration penalty_cap =
      std::chrono::seconds(10);  // most cost of one failure (unless rtt is larger)
};

class PeakEwma {
 public:
  // An estimate at `initial`, as of no particular time (the first sample sets the clock).
  explicit PeakEwma(const PeakEwmaConfig& config = {});

  // Folds in a successful response that took `rtt`, completed at `now`.
  void observeSuccess(TimePoint now, Duration rtt);
  // Folds in a failed attempt (5xx, reset, timeout, refused) that took `rtt`, as a penalty sample.
  void observeFailure(TimePoint now, Duration rtt);
  // The estimate in milliseconds at `now`, decayed for the time since the last sample.
  double estimateMillis(TimePoint now) const;
  // Successes observed since construction.
  uint64_t successes() const { return successes_; }
  // Failures observed since construction.
  uint64_t failures() const { return failures_; }
  // Forgets all samples (e.g. when the endpoint comes back from ejection).
  void reset();

 private:
  void observe(TimePoint now, double rtt_ms);
  double decayWeight(TimePoint now) const;

  PeakEwmaConfig config_;
  double estimate_ms_;
  TimePoint last_{};
  bool has_sample_ = false;
  uint64_t successes_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace rampart::policy
