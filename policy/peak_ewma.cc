#include "policy/peak_ewma.h"

#include <algorithm>
#include <cmath>

namespace rampart::policy {

PeakEwma::PeakEwma(const PeakEwmaConfig& config) : config_(config) {
  config_.decay = std::max<Duration>(config_.decay, std::chrono::milliseconds(1));
  config_.failure_multiplier = std::max(config_.failure_multiplier, 1.0);
  config_.penalty_cap = std::max(config_.penalty_cap, config_.penalty_floor);
  estimate_ms_ = std::max(0.0, toMillis(config_.initial));
}

double PeakEwma::decayWeight(TimePoint now) const {
  if (!has_sample_ || now <= last_) return 1.0;
  return std::exp(-toSeconds(now - last_) / toSeconds(config_.decay));
}

void PeakEwma::observe(TimePoint now, double rtt_ms) {
  rtt_ms = std::max(rtt_ms, 0.0);
  if (rtt_ms > estimate_ms_) {
    estimate_ms_ = rtt_ms;
  } else {
    const double w = decayWeight(now);
    estimate_ms_ = w * estimate_ms_ + (1.0 - w) * rtt_ms;
  }
  // A stale timestamp must not move the clock back.
  if (!has_sample_ || now > last_) last_ = now;
  has_sample_ = true;
}

void PeakEwma::observeSuccess(TimePoint now, Duration rtt) {
  ++successes_;
  observe(now, toMillis(rtt));
}

void PeakEwma::observeFailure(TimePoint now, Duration rtt) {
  ++failures_;
  const double scaled = config_.failure_multiplier * estimateMillis(now);
  const double penalty =
      std::clamp(scaled, toMillis(config_.penalty_floor), toMillis(config_.penalty_cap));
  observe(now, std::max(toMillis(rtt), penalty));
}

double PeakEwma::estimateMillis(TimePoint now) const {
  return estimate_ms_ * decayWeight(now);
}

void PeakEwma::reset() {
  estimate_ms_ = std::max(0.0, toMillis(config_.initial));
  has_sample_ = false;
  last_ = TimePoint{};
}

}  // namespace rampart::policy
