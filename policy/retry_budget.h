#pragma once
// RetryBudget: caps retries to a fraction of recent requests plus a small floor.
//
// Algorithm (the Linkerd / Finagle rate budget): over a sliding window of
// length ttl, made of `slots` slots that expire as `now` moves,
//     retries_in_window ≤ ratio × requests_in_window + min_per_second × ttl
// A retry is granted (and counted) only while the right side exceeds the
// left by at least one. Only first attempts count as requests, so retries
// never earn more retries: under 100 % failure the load is bounded by
// (1 + ratio) × offered + min_per_second, and a retry storm cannot start.
// Operators size it with two numbers only: the extra load they accept as a
// fraction of requests (ratio) and a floor in retries per second for
// low-traffic routes (min_per_second). Envoy's budget, sized in concurrent
// requests, is the one users find hard to size.
//
// Thread sharing: none. One instance per worker; the proxy gives each worker
// min_per_second / workers so the sum over workers keeps the bound.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "policy/time.h"

namespace rampart::policy {

struct RetryBudgetConfig {
  double ratio = 0.2;                       // retries allowed per first attempt
  double min_per_second = 10;               // retries always allowed per second
  Duration ttl = std::chrono::seconds(10);  // window over which both are counted
  size_t slots = 10;                        // window granularity (ttl / slots per slot)
};

// The budget's state, for /policies and metrics.
struct RetryBudgetExplain {
  double ratio = 0;            // configured ratio
  double min_per_second = 0;   // configured floor (this worker's share)
  Duration ttl{};              // configured window
  uint64_t requests = 0;       // first attempts inside the window
  uint64_t retries = 0;        // retries granted inside the window
  double available = 0;        // retries that could be granted now
  uint64_t granted_total = 0;  // retries granted since start
  uint64_t refused_total = 0;  // retries refused since start
};

class RetryBudget {
 public:
  // A budget with `config` (negative values are treated as 0; ttl as at least 1 ms).
  explicit RetryBudget(const RetryBudgetConfig& config = {});

  // Counts a first attempt (never a retry or hedge) at `now`.
  void onRequest(TimePoint now);
  // True if a retry may go at `now`; a granted retry is counted against the budget.
  bool tryWithdraw(TimePoint now);
  // Retries that could still be granted at `now` (may be fractional; 0 when exhausted).
  double available(TimePoint now) const;
  // Retries granted since construction.
  uint64_t granted() const { return granted_; }
  // Retries refused since construction.
  uint64_t refused() const { return refused_; }
  // Configuration, window counts and totals at `now`.
  RetryBudgetExplain explain(TimePoint now) const;
  // The configuration in force (after sanitising).
  const RetryBudgetConfig& config() const { return config_; }

 private:
  struct Slot {
    int64_t epoch = 0;
    bool used = false;
    uint64_t requests = 0;
    uint64_t retries = 0;
  };
  struct Totals {
    uint64_t requests = 0;
    uint64_t retries = 0;
  };

  int64_t epochOf(TimePoint now) const;
  Slot& slotFor(TimePoint now);
  Totals totals(TimePoint now) const;
  double availableFrom(const Totals& t) const;

  RetryBudgetConfig config_;
  Duration slot_width_;
  std::vector<Slot> slots_;
  int64_t latest_epoch_ = 0;
  bool any_ = false;
  uint64_t granted_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace rampart::policy
