#include "proxy/router/route_runtime.h"

namespace rampart::router {

namespace {
using namespace std::chrono_literals;

// A worker's share of a process-wide budget: the ratio holds per worker, the
// floor is split, so the sum over workers keeps the configured bound.
policy::RetryBudgetConfig shareOf(policy::RetryBudgetConfig config, uint32_t workers) {
  config.min_per_second /= std::max<uint32_t>(workers, 1);
  return config;
}
}  // namespace

RouteRuntime::RouteRuntime(event::Dispatcher& dispatcher, const config::RouteConfig& config,
                           stats::RouteStats& stats, uint32_t workers,
                           filters::BatchSubmitter* batcher, uint64_t max_body_bytes)
    : config_(config),
      stats_(stats),
      sketch_(10s, 10),
      attempt_timeout_(config.timeout.learned ? config.timeout.max : config.timeout.fixed),
      hedge_delay_(config.hedge.policy.learned ? config.hedge.policy.max
                                               : config.hedge.policy.fixed_after),
      backoff_(config.retry.backoff) {
  if (config.retry.enabled) retry_budget_.emplace(shareOf(config.retry.budget, workers));
  if (config.hedge.enabled) {
    policy::HedgePolicyConfig hedge = config.hedge.policy;
    hedge.budget_min_per_second /= std::max<uint32_t>(workers, 1);
    hedge_.emplace(hedge);
  }
  if (config.load_shedding.enabled) {
    shedding_ = std::make_unique<filters::LoadSheddingFilterFactory>(dispatcher,
                                                                     config.load_shedding, stats);
  }
  if (batcher) {
    batching_ = std::make_unique<filters::BatchingFilterFactory>(*batcher, dispatcher, stats,
                                                                 max_body_bytes);
  }
  stats_.timeout_microseconds.set(attempt_timeout_.count() / 1000);
  if (hedge_) stats_.hedge_delay_microseconds.set(hedge_delay_.count() / 1000);
}

policy::Duration RouteRuntime::requestBudget() const {
  return config_.timeout.learned ? config_.timeout.max : config_.timeout.fixed;
}

void RouteRuntime::publishLearned(policy::Duration attempt_timeout, policy::Duration hedge_delay) {
  if (config_.timeout.learned && !config_.timeout.shadow) {
    attempt_timeout_ = attempt_timeout;
    stats_.timeout_microseconds.set(attempt_timeout_.count() / 1000);
  }
  if (hedge_ && config_.hedge.policy.learned) {
    hedge_delay_ = hedge_delay;
    stats_.hedge_delay_microseconds.set(hedge_delay_.count() / 1000);
  }
}

filters::AdmissionController* RouteRuntime::admission() {
  return shedding_ ? &shedding_->controller() : nullptr;
}

std::vector<std::unique_ptr<filters::StreamFilter>> RouteRuntime::createFilters() {
  std::vector<std::unique_ptr<filters::StreamFilter>> chain;
  // Admission first: a shed request never waits for a batch.
  if (shedding_) chain.push_back(shedding_->create());
  if (batching_) chain.push_back(batching_->create());
  return chain;
}

}  // namespace rampart::router
