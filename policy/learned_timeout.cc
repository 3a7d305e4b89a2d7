#include "policy/learned_timeout.h"

#include <algorithm>
#include <cmath>

namespace rampart::policy {

std::string_view toString(TimeoutSource source) {
  switch (source) {
    case TimeoutSource::kFixed:
      return "fixed";
    case TimeoutSource::kDefault:
      return "default";
    case TimeoutSource::kLearned:
      return "learned";
  }
  return "unknown";
}

LearnedTimeout::LearnedTimeout(const TimeoutPolicyConfig& config) : config_(config) {
  // A config with min > max would make clamp undefined; the bound that keeps
  // requests alive (max) wins.
  config_.min = std::min(config_.min, config_.max);
  config_.max_growth = std::max(config_.max_growth, 1.0);
  if (config_.learned) {
    explain_.value = clampToBounds(config_.initial);
    explain_.source = TimeoutSource::kDefault;
  } else {
    explain_.value = config_.fixed;
    explain_.source = TimeoutSource::kFixed;
  }
}

Duration LearnedTimeout::clampToBounds(Duration d) const {
  return std::clamp(d, config_.min, config_.max);
}

void LearnedTimeout::update(const LatencySketch& evidence) {
  explain_.samples = evidence.count();
  explain_.observed_quantile = evidence.quantile(config_.quantile);
  explain_.growth_limited = false;
  if (!config_.learned) return;
  if (evidence.count() < config_.min_samples || evidence.count() == 0) {
    explain_.holding = true;
    return;
  }
  explain_.holding = false;
  const double target_ns =
      config_.multiplier * static_cast<double>(explain_.observed_quantile.count());
  // Clamp in double first: a huge multiplier must not overflow the cast.
  const double bounded = std::clamp(target_ns, static_cast<double>(config_.min.count()),
                                    static_cast<double>(config_.max.count()));
  explain_.target = Duration(static_cast<int64_t>(std::llround(bounded)));
  Duration next = explain_.target;
  // From at least 1 ms, so a zero minimum cannot pin the value at zero forever.
  const Duration base = std::max<Duration>(explain_.value, std::chrono::milliseconds(1));
  const double ceiling = static_cast<double>(base.count()) * config_.max_growth;
  if (static_cast<double>(next.count()) > ceiling) {
    next = Duration(static_cast<int64_t>(ceiling));
    explain_.growth_limited = true;
  }
  explain_.value = clampToBounds(next);
  explain_.source = TimeoutSource::kLearned;
}

}  // namespace rampart::policy
