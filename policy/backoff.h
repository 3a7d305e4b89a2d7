#pragma once
// Backoff: how long to wait before a retry.
//
// Algorithm: fully jittered exponential backoff. Retry number n (0 for the
// first retry) waits uniform in [0, min(max, base × 2^n)). Full jitter
// spreads a burst of failed requests evenly over the interval instead of
// having them retry in lock-step (the defaults match Envoy: 25 ms, 250 ms).
// A server hint (Retry-After, grpc-retry-pushback-ms) replaces the
// exponential: the wait is the hint plus a jitter in [0, base), so clients
// told the same hint do not return together, all capped at max_retry_after.
// The router should skip a retry whose wait runs past the request deadline.
//
// Thread sharing: none; the object is immutable after construction and the
// randomness comes from the caller's per-worker Rng.

#include <optional>

#include "policy/random.h"
#include "policy/time.h"

namespace rampart::policy {

struct BackoffConfig {
  Duration base = std::chrono::milliseconds(25);              // first retry waits < base
  Duration max = std::chrono::milliseconds(250);              // cap of the exponential
  Duration max_retry_after = std::chrono::milliseconds(250);  // cap of a server's hint
};

class Backoff {
 public:
  // A backoff with `config` (negative values treated as 0; max at least base).
  explicit Backoff(const BackoffConfig& config = {});

  // The wait before retry `attempt` (0 = first retry), honouring `retry_after` when given.
  Duration next(int attempt, Rng& rng, std::optional<Duration> retry_after = {}) const;
  // The exclusive upper bound of next(attempt) without a hint: min(max, base × 2^attempt).
  Duration ceiling(int attempt) const;
  // The configuration in force (after sanitising).
  const BackoffConfig& config() const { return config_; }

 private:
  Duration jitter(Duration bound, Rng& rng) const;

  BackoffConfig config_;
};

}  // namespace rampart::policy
