#pragma once
// HedgePolicy: when to send a backup copy of a slow request, and how often.
//
// Algorithm ("The Tail at Scale" hedged requests, Finagle backup requests):
// the hedge fires once the first attempt has waited
//     delay = clamp(quantile_q(recent latency), min, max)     (q = 0.95)
// so roughly (1 − q) of requests would hedge, and every hedge must also win
// a token from its own RetryBudget (budget_ratio × requests +
// budget_min_per_second × ttl over ttl), which bounds extra load to about
// budget_ratio even when latency shifts and the quantile lags. Until the
// evidence holds min_samples observations the delay holds at the safe
// default `max` (very few hedges). No growth limit is needed here: under
// overload latency rises, the delay rises and hedging backs off by itself.
// With `learned == false` the delay is `fixed_after`, clamped to [min, max].
// Extra copies beyond the first fire after further multiples of delay().
//
// Thread sharing: none. One instance per worker (its budget is per worker,
// with budget_min_per_second already divided by the worker count); update()
// may also run on the main thread, which then publishes delay().

#include <cstdint>
#include <string_view>

#include "policy/latency_sketch.h"
#include "policy/retry_budget.h"
#include "policy/time.h"

namespace rampart::policy {

struct HedgePolicyConfig {
  bool learned = true;                                   // learn the delay, or use fixed_after
  Duration fixed_after = std::chrono::milliseconds(50);  // the delay when !learned
  double quantile = 0.95;                                // q of the latency evidence
  Duration min = std::chrono::milliseconds(5);           // lower bound of the delay
  Duration max = std::chrono::seconds(1);                // upper bound, and the safe default
  int max_extra = 1;                                     // backup copies per request (0 = off)
  double budget_ratio = 0.1;                             // hedges per first attempt
  double budget_min_per_second = 1;                      // hedges always allowed per second
  Duration budget_ttl = std::chrono::seconds(10);        // window of the hedge budget
  uint64_t min_samples = 50;                             // evidence needed to learn
};

// Where the hedge delay comes from.
enum class HedgeDelaySource {
  kFixed,    // configured fixed_after
  kDefault,  // safe default (max): not enough evidence yet
  kLearned,  // the observed quantile, clamped
};

// Lower-case name of a source for /policies and logs: "fixed", "default", "learned".
std::string_view toString(HedgeDelaySource source);

// The delay, its evidence and the budget, for /policies.
struct HedgeExplain {
  Duration delay{};              // the delay in force
  HedgeDelaySource source{};     // where it came from
  uint64_t samples = 0;          // evidence count at the last update
  Duration observed_quantile{};  // quantile_q of that evidence (0 if none)
  int max_extra = 0;             // backup copies per request
  RetryBudgetExplain budget;     // the hedge budget at the time asked
};

class HedgePolicy {
 public:
  // A policy with `config`; the delay starts at fixed_after or at max.
  explicit HedgePolicy(const HedgePolicyConfig& config = {});

  // Recomputes the delay from `evidence` (ignored when not learned).
  void update(const LatencySketch& evidence);
  // How long the first attempt may run before a hedge is sent.
  Duration delay() const { return delay_; }
  // Backup copies allowed per request (0 disables hedging).
  int maxExtra() const { return config_.max_extra; }
  // Counts a first attempt at `now` (earns hedge budget).
  void onRequest(TimePoint now) { budget_.onRequest(now); }
  // True if a hedge may be sent at `now`; a granted hedge consumes budget.
  bool tryHedge(TimePoint now);
  // The delay, its source, its evidence and the budget at `now`.
  HedgeExplain explain(TimePoint now) const;

 private:
  HedgePolicyConfig config_;
  RetryBudget budget_;
  Duration delay_{};
  HedgeDelaySource source_{};
  uint64_t samples_ = 0;
  Duration observed_{};
};

}  // namespace rampart::policy
