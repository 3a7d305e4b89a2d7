#include "policy/backoff.h"

#include <algorithm>

namespace rampart::policy {

Backoff::Backoff(const BackoffConfig& config) : config_(config) {
  config_.base = std::max(config_.base, Duration::zero());
  config_.max = std::max(config_.max, config_.base);
  config_.max_retry_after = std::max(config_.max_retry_after, Duration::zero());
}

Duration Backoff::ceiling(int attempt) const {
  Duration bound = config_.base;
  // Doubling stops at max, so no shift can overflow whatever `attempt` is.
  for (int i = 0; i < attempt && bound < config_.max; ++i) bound *= 2;
  return std::min(bound, config_.max);
}

Duration Backoff::jitter(Duration bound, Rng& rng) const {
  if (bound <= Duration::zero()) return Duration::zero();
  return Duration(static_cast<int64_t>(rng.below(static_cast<uint64_t>(bound.count()))));
}

Duration Backoff::next(int attempt, Rng& rng, std::optional<Duration> retry_after) const {
  if (retry_after) {
    const Duration hint = std::max(*retry_after, Duration::zero());
    if (hint >= config_.max_retry_after) return config_.max_retry_after;
    return std::min(hint + jitter(config_.base, rng), config_.max_retry_after);
  }
  return jitter(ceiling(std::max(attempt, 0)), rng);
}

}  // namespace rampart::policy
