#include "policy/retry_budget.h"

#include <algorithm>

namespace rampart::policy {

RetryBudget::RetryBudget(const RetryBudgetConfig& config) : config_(config) {
  config_.ratio = std::max(config_.ratio, 0.0);
  config_.min_per_second = std::max(config_.min_per_second, 0.0);
  config_.ttl = std::max<Duration>(config_.ttl, std::chrono::milliseconds(1));
  config_.slots = std::max<size_t>(config_.slots, 1);
  slot_width_ = std::max<Duration>(Duration(1), config_.ttl / static_cast<int64_t>(config_.slots));
  slots_.resize(config_.slots);
}

int64_t RetryBudget::epochOf(TimePoint now) const {
  const int64_t t = now.time_since_epoch().count();
  const int64_t w = slot_width_.count();
  int64_t e = t / w;
  if (t % w != 0 && t < 0) --e;
  // Time that runs backwards counts in the newest slot.
  return any_ ? std::max(e, latest_epoch_) : e;
}

RetryBudget::Slot& RetryBudget::slotFor(TimePoint now) {
  const int64_t e = epochOf(now);
  const auto k = static_cast<int64_t>(slots_.size());
  Slot& slot = slots_[static_cast<size_t>(((e % k) + k) % k)];
  if (!slot.used || slot.epoch != e) slot = Slot{e, true, 0, 0};
  latest_epoch_ = e;
  any_ = true;
  return slot;
}

RetryBudget::Totals RetryBudget::totals(TimePoint now) const {
  const int64_t e = epochOf(now);
  const auto k = static_cast<int64_t>(slots_.size());
  Totals t;
  for (const Slot& slot : slots_) {
    if (slot.used && slot.epoch <= e && slot.epoch > e - k) {
      t.requests += slot.requests;
      t.retries += slot.retries;
    }
  }
  return t;
}

double RetryBudget::availableFrom(const Totals& t) const {
  const double allowance = config_.ratio * static_cast<double>(t.requests) +
                           config_.min_per_second * toSeconds(config_.ttl);
  return std::max(0.0, allowance - static_cast<double>(t.retries));
}

void RetryBudget::onRequest(TimePoint now) {
  ++slotFor(now).requests;
}

bool RetryBudget::tryWithdraw(TimePoint now) {
  // Tiny epsilon: 0.2 × 5 must grant one retry despite binary rounding.
  if (availableFrom(totals(now)) + 1e-9 < 1.0) {
    ++refused_;
    return false;
  }
  ++slotFor(now).retries;
  ++granted_;
  return true;
}

double RetryBudget::available(TimePoint now) const {
  return availableFrom(totals(now));
}

RetryBudgetExplain RetryBudget::explain(TimePoint now) const {
  const Totals t = totals(now);
  return RetryBudgetExplain{config_.ratio, config_.min_per_second, config_.ttl, t.requests,
                            t.retries,     availableFrom(t),       granted_,    refused_};
}

}  // namespace rampart::policy
