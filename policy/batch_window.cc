#include "policy/batch_window.h"

#include <algorithm>
#include <cmath>

namespace rampart::policy {
namespace {

// Weight of a new dispatch in the typical batch size used for queue-wait guesses.
constexpr double kTypicalBatchAlpha = 0.1;

}  // namespace

BatchWindowController::BatchWindowController(BatchWindowConfig config)
    : config_(config), cost_(config.cost) {
  config_.max_batch_size = std::max<std::size_t>(1, config_.max_batch_size);
}

void BatchWindowController::onArrival(TimePoint now, std::size_t rows) {
  const double tau = std::max(1e-6, toSeconds(config_.rate_time_constant));
  rate_ = rate(now) + static_cast<double>(rows) / tau;
  if (!last_arrival_ || now > *last_arrival_) last_arrival_ = now;
}

void BatchWindowController::onBatchComplete(std::size_t rows, Duration latency) {
  cost_.observe(rows, latency);
}

double BatchWindowController::rate(TimePoint now) const {
  if (!last_arrival_) return 0;
  const double tau = std::max(1e-6, toSeconds(config_.rate_time_constant));
  const double dt = std::max(0.0, toSeconds(now - *last_arrival_));
  return rate_ * std::exp(-dt / tau);
}

std::size_t BatchWindowController::cap() const {
  // Largest n with T99(n) <= S/2: T99 is linear in n, so solve rather than search.
  const auto cost = cost_.explain();
  const double budget = toSeconds(config_.slo) / 2 - toSeconds(cost.fixed) -
                        config_.tail_z * toSeconds(cost.residual_stddev);
  const double b = toSeconds(cost.per_item);
  if (b <= 0) return config_.max_batch_size;
  const double n = std::floor(budget / b);
  if (!(n >= 1)) return 1;
  return static_cast<std::size_t>(std::min(n, static_cast<double>(config_.max_batch_size)));
}

std::size_t BatchWindowController::target(double rate_per_s, std::size_t capacity) const {
  const std::size_t limit = cap();
  const auto cost = cost_.explain();
  const double lambda = (1 + config_.rate_headroom) * rate_per_s;
  const double slots = static_cast<double>(std::max<std::size_t>(1, capacity));
  const double spare = slots - lambda * toSeconds(cost.per_item);
  if (spare <= 0) return limit;  // no size keeps up: the most throughput we may have
  const double n = std::ceil(lambda * toSeconds(cost.fixed) / spare);
  if (!(n >= 1)) return 1;
  return static_cast<std::size_t>(std::min(n, static_cast<double>(limit)));
}

Duration BatchWindowController::queueWait(const BackendLoad& backend) const {
  const std::size_t slots = std::max<std::size_t>(1, backend.capacity);
  if (backend.in_flight < slots) return Duration::zero();
  // At worst the first slot frees after a whole typical batch, and each batch
  // queued ahead per slot adds one. Worst case rather than average: under overload
  // every admitted request sits at the admission boundary, so an average-case
  // guess lets a quarter of them miss by a little.
  const double ahead = static_cast<double>((backend.in_flight - slots) / slots) + 1.0;
  const auto typical = static_cast<std::size_t>(std::lround(typical_batch_));
  return fromSeconds(ahead * toSeconds(cost_.predict(typical)));
}

Duration BatchWindowController::window(double rate_per_s, std::size_t target_rows) const {
  Duration fill = Duration::zero();
  if (config_.max_delay) {
    fill = *config_.max_delay;
  } else if (target_rows > 1 && rate_per_s > 0) {
    fill = fromSeconds(static_cast<double>(target_rows - 1) / rate_per_s);
  }
  const Duration slack = config_.slo - cost_.predictTail(target_rows, config_.tail_z);
  return std::max(Duration::zero(), std::min(fill, slack));
}

BatchDecision BatchWindowController::record(std::size_t rows, DispatchReason reason) {
  ++dispatches_[static_cast<std::size_t>(reason)];
  typical_batch_ += kTypicalBatchAlpha * (static_cast<double>(rows) - typical_batch_);
  return Dispatch{rows, reason};
}

BatchDecision BatchWindowController::decide(TimePoint now, const PendingBucket& bucket,
                                            const BackendLoad& backend) {
  last_capacity_ = std::max<std::size_t>(1, backend.capacity);
  if (bucket.rows == 0) return WaitUntil{TimePoint::max()};
  // Nothing sent to a busy backend starts sooner than when a slot frees, but
  // holding it lets the batch grow; the filter decides again on a completion.
  if (backend.in_flight >= last_capacity_) return WaitUntil{TimePoint::max()};

  const std::size_t limit = cap();
  if (bucket.rows >= limit) return record(limit, DispatchReason::Full);

  const Duration tail = cost_.predictTail(bucket.rows, config_.tail_z);
  TimePoint latest = bucket.oldest_arrival + config_.slo;
  if (bucket.earliest_deadline) latest = std::min(latest, *bucket.earliest_deadline);
  if (now + tail >= latest) return record(bucket.rows, DispatchReason::Deadline);

  const double lambda = rate(now);
  const std::size_t want = target(lambda, last_capacity_);
  if (bucket.rows >= want) return record(bucket.rows, DispatchReason::BackendIdle);

  const TimePoint expiry = bucket.oldest_arrival + window(lambda, want);
  if (now >= expiry) return record(bucket.rows, DispatchReason::WindowExpired);
  return WaitUntil{std::min(expiry, latest - tail)};
}

bool BatchWindowController::admissible(TimePoint now, TimePoint deadline,
                                       const BackendLoad& backend, std::size_t rows_ahead) const {
  const std::size_t limit = cap();
  const std::size_t slots = std::max<std::size_t>(1, backend.capacity);
  const std::size_t rounds = rows_ahead / limit / slots;  // full rounds of batches before ours
  const Duration start =
      queueWait(backend) + cost_.predict(limit) * static_cast<std::int64_t>(rounds);
  const Duration service = cost_.predict(std::min(limit, rows_ahead % limit + 1));
  return now + start + service <= deadline;
}

BatchWindowExplain BatchWindowController::explain(TimePoint now) const {
  const double lambda = rate(now);
  const std::size_t want = target(lambda, last_capacity_);
  return {window(lambda, want), want, cap(), lambda, cost_.explain(), dispatches_};
}

}  // namespace rampart::policy
