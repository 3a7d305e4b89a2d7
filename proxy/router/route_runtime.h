#pragma once
// One route's policy state on one worker: the latency evidence it collects
// (merged across workers by the main thread's PolicyController), the learned
// values the controller publishes back (attempt timeout, hedge delay), the
// worker's share of the retry and hedge budgets, backoff, and the filters.

#include <memory>
#include <optional>
#include <vector>

#include "filters/batching/batching_filter.h"
#include "filters/filter.h"
#include "filters/load_shedding/load_shedding_filter.h"
#include "policy/backoff.h"
#include "policy/hedge_policy.h"
#include "policy/retry_budget.h"
#include "policy/windowed_sketch.h"
#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/stats/stats.h"

namespace rampart::router {

class RouteRuntime {
 public:
  // `batcher` is the route's shared batcher when the route batches (else null).
  RouteRuntime(event::Dispatcher& dispatcher, const config::RouteConfig& config,
               stats::RouteStats& stats, uint32_t workers, filters::BatchSubmitter* batcher,
               uint64_t max_body_bytes);

  const config::RouteConfig& config() const { return config_; }
  stats::RouteStats& stats() { return stats_; }

  // The timeout of one attempt: fixed, learned, or (shadow/before evidence) the max.
  policy::Duration attemptTimeout() const { return attempt_timeout_; }
  // The whole request's budget across retries and hedges.
  policy::Duration requestBudget() const;
  // The hedge delay in force.
  policy::Duration hedgeDelay() const { return hedge_delay_; }
  // New learned values from the main thread (each is applied only where learned).
  void publishLearned(policy::Duration attempt_timeout, policy::Duration hedge_delay);

  // Latency evidence: time to response head of successful attempts, and timeouts.
  void recordLatency(policy::TimePoint now, policy::Duration latency) {
    sketch_.record(now, latency);
  }
  policy::LatencySketch latencySnapshot(policy::TimePoint now) const {
    return sketch_.snapshot(now);
  }

  // The worker's retry budget (null when retries are off).
  policy::RetryBudget* retryBudget() { return retry_budget_ ? &*retry_budget_ : nullptr; }
  // The worker's hedge budget and counters (null when hedging is off).
  policy::HedgePolicy* hedge() { return hedge_ ? &*hedge_ : nullptr; }
  const policy::Backoff& backoff() const { return backoff_; }
  // The admission controller (null when load shedding is off).
  filters::AdmissionController* admission();
  // Makes this request's filter chain.
  std::vector<std::unique_ptr<filters::StreamFilter>> createFilters();

 private:
  const config::RouteConfig& config_;
  stats::RouteStats& stats_;
  policy::WindowedLatencySketch sketch_;
  policy::Duration attempt_timeout_;
  policy::Duration hedge_delay_;
  std::optional<policy::RetryBudget> retry_budget_;
  std::optional<policy::HedgePolicy> hedge_;
  policy::Backoff backoff_;
  std::unique_ptr<filters::LoadSheddingFilterFactory> shedding_;
  std::unique_ptr<filters::BatchingFilterFactory> batching_;
};

}  // namespace rampart::router
