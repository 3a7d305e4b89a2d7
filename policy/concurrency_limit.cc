#include "policy/concurrency_limit.h"

#include <algorithm>
#include <cmath>

namespace rampart::policy {
namespace {

// Repairs values that would break the formulas instead of trusting the caller;
// config validation reports them, this only keeps the controller sane.
ConcurrencyLimitConfig sanitise(ConcurrencyLimitConfig c) {
  c.min_limit = std::max<uint32_t>(c.min_limit, 1);
  c.max_limit = std::max(c.max_limit, c.min_limit);
  c.initial_limit = std::clamp(c.initial_limit, c.min_limit, c.max_limit);
  c.smoothing = std::clamp(c.smoothing, 0.01, 1.0);
  c.tolerance = std::max(c.tolerance, 1.0);
  c.min_window_samples = std::max<uint32_t>(c.min_window_samples, 1);
  c.rtt_quantile = std::clamp(c.rtt_quantile, 0.0, 1.0);
  c.min_gradient = std::clamp(c.min_gradient, 0.05, 1.0);
  c.max_gradient = std::max(c.max_gradient, 1.0);
  c.low_load_fraction = std::clamp(c.low_load_fraction, 0.0, 1.0);
  c.min_low_load_samples = std::max<uint32_t>(c.min_low_load_samples, 1);
  c.no_load_rise_time = std::max(c.no_load_rise_time, Duration(std::chrono::milliseconds(1)));
  c.drop_backoff = std::clamp(c.drop_backoff, 0.1, 1.0);
  c.concurrency_spread = std::max(c.concurrency_spread, 1.1);
  return c;
}

}  // namespace

AdaptiveConcurrencyLimit::AdaptiveConcurrencyLimit(ConcurrencyLimitConfig config)
    : config_(sanitise(config)) {
  setLimit(config_.initial_limit);
}

void AdaptiveConcurrencyLimit::onSample(TimePoint now, Duration rtt, uint32_t inflight_at_start,
                                        bool dropped) {
  if (!window_open_) {
    window_open_ = true;
    window_start_ = now;
  }
  samples_++;
  window_samples_++;
  const uint32_t inflight = inflight_at_start == UINT32_MAX ? UINT32_MAX : inflight_at_start + 1;
  window_peak_inflight_ = std::max(window_peak_inflight_, inflight);
  if (dropped) {
    // A timeout's RTT is the timeout, not the backend's: keep it out of the quantiles.
    dropped_++;
    window_dropped_++;
  } else {
    window_rtts_.record(rtt);
    if (inflight <= lowLoadInflight()) {
      if (low_load_rtts_.empty()) low_load_since_ = now;
      low_load_rtts_.record(rtt);
    }
  }
  if (now - window_start_ >= config_.sample_window &&
      window_samples_ >= config_.min_window_samples) {
    closeWindow(now);
  }
}

uint32_t AdaptiveConcurrencyLimit::lowLoadInflight() const {
  const auto share = static_cast<uint32_t>(config_.low_load_fraction * limit_);
  return std::max<uint32_t>(1, share);
}

void AdaptiveConcurrencyLimit::closeWindow(TimePoint now) {
  windows_++;
  const bool has_rtts = !window_rtts_.empty();
  if (has_rtts) {
    recent_ = window_rtts_.quantile(config_.rtt_quantile);
    updateNoLoad(now, recent_, flatEvidence(window_peak_inflight_, recent_));
    history_[history_next_] = WindowRecord{window_peak_inflight_, recent_};
    history_next_ = (history_next_ + 1) % kHistory;
    history_size_ = std::min(history_size_ + 1, kHistory);
  }
  const double drop_share =
      static_cast<double>(window_dropped_) / static_cast<double>(window_samples_);
  backed_off_ = drop_share >= config_.drop_threshold && window_dropped_ > 0;
  app_limited_ = window_peak_inflight_ < config_.app_limited_fraction * limit_;
  double next = limit_;
  if (backed_off_) {
    // Loss is a stronger signal than delay: back off at once, unsmoothed.
    gradient_ = config_.drop_backoff;
    next = limit_ * config_.drop_backoff;
  } else if (has_rtts && recent_ > Duration::zero() && no_load_ > Duration::zero()) {
    const double ratio = config_.tolerance * static_cast<double>(no_load_.count()) /
                         static_cast<double>(recent_.count());
    gradient_ = std::clamp(ratio, config_.min_gradient, config_.max_gradient);
    const double target = limit_ * gradient_ + std::sqrt(limit_);
    next = (1.0 - config_.smoothing) * limit_ + config_.smoothing * target;
    if (app_limited_) next = std::min(next, limit_);
  }
  setLimit(next);
  last_peak_inflight_ = window_peak_inflight_;
  window_start_ = now;
  window_rtts_.clear();
  window_samples_ = 0;
  window_dropped_ = 0;
  window_peak_inflight_ = 0;
}

std::optional<Duration> AdaptiveConcurrencyLimit::flatEvidence(uint32_t peak,
                                                               Duration recent) const {
  std::optional<Duration> best;
  for (size_t i = 0; i < history_size_; ++i) {
    const WindowRecord& old = history_[i];
    WindowRecord low = old;
    WindowRecord high{peak, recent};
    if (low.peak > high.peak) std::swap(low, high);
    if (low.peak == 0 || low.rtt <= Duration::zero()) continue;
    const double spread = static_cast<double>(high.peak) / static_cast<double>(low.peak);
    if (spread < config_.concurrency_spread) continue;
    const double growth =
        static_cast<double>(high.rtt.count()) / static_cast<double>(low.rtt.count());
    // Queueing grows the RTT in proportion to concurrency, so an RTT that grew by
    // less than √spread is mostly work. One that fell means the backend itself
    // changed between the windows: no evidence either way.
    const double band = std::sqrt(spread);
    if (growth >= band || growth < 1.0 / band) continue;
    const Duration flat = std::min(low.rtt, high.rtt);
    if (!best || flat < *best) best = flat;
  }
  return best;
}

void AdaptiveConcurrencyLimit::updateNoLoad(TimePoint now, Duration recent,
                                            std::optional<Duration> flat_evidence) {
  if (no_load_ == Duration::zero()) {
    // Bootstrap: low-load samples if any, else the fastest sample seen, which
    // is the least queued one we have.
    no_load_ =
        low_load_rtts_.empty() ? window_rtts_.min() : low_load_rtts_.quantile(config_.rtt_quantile);
    low_load_rtts_.clear();
    return;
  }
  no_load_ = std::min(no_load_, recent);
  std::optional<Duration> evidence = flat_evidence;
  Duration span = config_.sample_window;
  if (low_load_rtts_.count() >= config_.min_low_load_samples) {
    const Duration low = low_load_rtts_.quantile(config_.rtt_quantile);
    evidence = evidence ? std::min(*evidence, low) : low;
    span = std::max(span, now - low_load_since_);
    low_load_rtts_.clear();
  }
  if (!evidence) return;
  if (*evidence < no_load_) {
    no_load_ = *evidence;
    return;
  }
  // Rising is slow: evidence that the backend is slower must persist.
  span = std::min(span, config_.no_load_rise_time);
  const double alpha = 1.0 - std::exp(-toSeconds(span) / toSeconds(config_.no_load_rise_time));
  no_load_ += std::chrono::duration_cast<Duration>(std::chrono::duration<double, Duration::period>(
      alpha * static_cast<double>((*evidence - no_load_).count())));
}

void AdaptiveConcurrencyLimit::setLimit(double limit) {
  const auto lo = static_cast<double>(config_.min_limit);
  const auto hi = static_cast<double>(config_.max_limit);
  limit_ = std::clamp(limit, lo, hi);
  limit_rounded_ = static_cast<uint32_t>(std::clamp(std::round(limit_), lo, hi));
}

ConcurrencyLimitExplain AdaptiveConcurrencyLimit::explain() const {
  ConcurrencyLimitExplain e;
  e.limit = limit_rounded_;
  e.limit_exact = limit_;
  e.no_load_rtt = no_load_;
  e.recent_rtt = recent_;
  e.gradient = gradient_;
  e.samples = samples_;
  e.dropped = dropped_;
  e.windows = windows_;
  e.window_peak_inflight = last_peak_inflight_;
  e.app_limited = app_limited_;
  e.backed_off = backed_off_;
  return e;
}

}  // namespace rampart::policy
