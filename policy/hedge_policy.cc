#include "policy/hedge_policy.h"

#include <algorithm>

namespace rampart::policy {
namespace {

HedgePolicyConfig sanitise(HedgePolicyConfig c) {
  c.min = std::max(c.min, Duration::zero());
  c.max = std::max(c.max, c.min);
  c.max_extra = std::max(c.max_extra, 0);
  return c;
}

}  // namespace

std::string_view toString(HedgeDelaySource source) {
  switch (source) {
    case HedgeDelaySource::kFixed:
      return "fixed";
    case HedgeDelaySource::kDefault:
      return "default";
    case HedgeDelaySource::kLearned:
      return "learned";
  }
  return "unknown";
}

HedgePolicy::HedgePolicy(const HedgePolicyConfig& config)
    : config_(sanitise(config)),
      budget_(RetryBudgetConfig{config_.budget_ratio, config_.budget_min_per_second,
                                config_.budget_ttl, 10}) {
  if (config_.learned) {
    delay_ = config_.max;
    source_ = HedgeDelaySource::kDefault;
  } else {
    delay_ = std::clamp(config_.fixed_after, config_.min, config_.max);
    source_ = HedgeDelaySource::kFixed;
  }
}

void HedgePolicy::update(const LatencySketch& evidence) {
  samples_ = evidence.count();
  observed_ = evidence.quantile(config_.quantile);
  if (!config_.learned || samples_ == 0 || samples_ < config_.min_samples) return;
  delay_ = std::clamp(observed_, config_.min, config_.max);
  source_ = HedgeDelaySource::kLearned;
}

bool HedgePolicy::tryHedge(TimePoint now) {
  if (config_.max_extra <= 0) return false;
  return budget_.tryWithdraw(now);
}

HedgeExplain HedgePolicy::explain(TimePoint now) const {
  return HedgeExplain{delay_,    source_,           samples_,
                      observed_, config_.max_extra, budget_.explain(now)};
}

}  // namespace rampart::policy
