#include "proxy/server/policy_controller.h"

#include "proxy/common/log.h"
#include "proxy/config/units.h"
#include "proxy/server/worker.h"

namespace rampart::server {

namespace {
policy::TimeoutPolicyConfig timeoutPolicy(const config::TimeoutSpec& t) {
  policy::TimeoutPolicyConfig p;
  p.learned = t.learned;
  p.fixed = t.fixed;
  p.quantile = t.quantile;
  p.multiplier = t.multiplier;
  p.min = t.min;
  p.max = t.max;
  p.initial = t.max;
  return p;
}

double ms(policy::Duration d) {
  return policy::toMillis(d);
}

nlohmann::json budgetJson(const policy::RetryBudgetExplain& b) {
  return {{"ratio", b.ratio},
          {"min_per_second", b.min_per_second},
          {"window_requests", b.requests},
          {"window_retries", b.retries},
          {"available", b.available},
          {"granted_total", b.granted_total},
          {"refused_total", b.refused_total}};
}
}  // namespace

PolicyController::PolicyController(event::Dispatcher& dispatcher, config::ConfigPtr config,
                                   std::vector<Worker*> workers,
                                   const upstream::HealthChecker* health)
    : dispatcher_(dispatcher),
      config_(std::move(config)),
      workers_(std::move(workers)),
      health_(health),
      timer_(dispatcher, [this] { tick(); }) {
  for (const auto& route : config_->routes) {
    timeouts_.emplace_back(timeoutPolicy(route.timeout));
    hedges_.emplace_back(route.hedge.policy);
    merged_.emplace_back();
  }
}

void PolicyController::start(policy::Duration interval) {
  interval_ = interval;
  timer_.enable(interval);
}

void PolicyController::stop() {
  stopped_ = true;
  timer_.disable();
}

void PolicyController::tick() {
  if (stopped_) return;
  ++generation_;
  pending_.clear();
  const uint64_t generation = generation_;
  for (Worker* worker : workers_) {
    worker->requestReport([this, generation](std::shared_ptr<WorkerPolicyReport> report) {
      dispatcher_.post([this, generation, report] { onReport(generation, report); });
    });
  }
  timer_.enable(interval_);
}

void PolicyController::onReport(uint64_t generation, std::shared_ptr<WorkerPolicyReport> report) {
  if (generation != generation_ || stopped_) return;  // a late answer to an older tick
  pending_.push_back(std::move(report));
  if (pending_.size() < workers_.size()) return;
  latest_ = pending_;
  ++completed_;
  learn();
}

void PolicyController::learn() {
  std::vector<LearnedRouteValues> values;
  for (size_t r = 0; r < config_->routes.size(); ++r) {
    policy::LatencySketch merged;
    for (const auto& report : latest_) merged.merge(report->routes[r].latency);
    timeouts_[r].update(merged);
    hedges_[r].update(merged);
    merged_[r] = merged;
    values.push_back({timeouts_[r].current(), hedges_[r].delay()});
  }
  for (Worker* worker : workers_) worker->publishLearned(values);
}

nlohmann::json PolicyController::explain() const {
  nlohmann::json routes = nlohmann::json::array();
  for (size_t r = 0; r < config_->routes.size(); ++r) {
    const auto& route = config_->routes[r];
    const auto& sketch = merged_[r];
    const auto& t = timeouts_[r].explain();
    nlohmann::json j;
    j["route"] = route.name;
    j["latency"] = {{"samples", sketch.count()},
                    {"p50_ms", ms(sketch.quantile(0.5))},
                    {"p90_ms", ms(sketch.quantile(0.9))},
                    {"p99_ms", ms(sketch.quantile(0.99))},
                    {"window", "10s, merged over workers"}};
    j["timeout"] = {
        {"mode",
         route.timeout.learned ? (route.timeout.shadow ? "learned (shadow)" : "learned") : "fixed"},
        {"attempt_timeout_ms", ms(route.timeout.learned && !route.timeout.shadow ? t.value
                                  : route.timeout.learned                        ? route.timeout.max
                                                          : route.timeout.fixed)},
        {"learned_ms", ms(t.value)},
        {"source", policy::toString(t.source)},
        {"samples", t.samples},
        {"observed_quantile_ms", ms(t.observed_quantile)},
        {"quantile", route.timeout.quantile},
        {"multiplier", route.timeout.multiplier},
        {"target_ms", ms(t.target)},
        {"growth_limited", t.growth_limited},
        {"holding", t.holding},
        {"min_ms", ms(route.timeout.min)},
        {"max_ms", ms(route.timeout.max)},
        {"request_budget_ms", ms(route.timeout.learned ? route.timeout.max : route.timeout.fixed)}};
    if (route.retry.enabled) {
      nlohmann::json workers = nlohmann::json::array();
      for (const auto& report : latest_) {
        if (report->routes[r].retry_budget)
          workers.push_back(budgetJson(*report->routes[r].retry_budget));
      }
      j["retry"] = {{"attempts", route.retry.attempts},
                    {"buffer_limit", route.retry.buffer_limit},
                    {"budget_per_worker", workers}};
    }
    if (route.hedge.enabled) {
      const auto h = hedges_[r].explain(dispatcher_.now());
      nlohmann::json workers = nlohmann::json::array();
      for (const auto& report : latest_) {
        if (report->routes[r].hedge) workers.push_back(budgetJson(report->routes[r].hedge->budget));
      }
      j["hedge"] = {
          {"mode", route.hedge.policy.learned ? "learned" : "fixed"},
          {"shadow", route.hedge.shadow},
          {"delay_ms", ms(route.hedge.policy.learned ? h.delay : route.hedge.policy.fixed_after)},
          {"samples", h.samples},
          {"observed_quantile_ms", ms(h.observed_quantile)},
          {"quantile", route.hedge.policy.quantile},
          {"max_extra", route.hedge.policy.max_extra},
          {"budget_per_worker", workers}};
    }
    if (route.load_shedding.enabled) {
      nlohmann::json workers = nlohmann::json::array();
      for (const auto& report : latest_) {
        const auto& a = report->routes[r].admission;
        const auto& c = report->routes[r].admission_counters;
        if (!a || !c) continue;
        nlohmann::json rejected;
        for (size_t p = 0; p < policy::kPriorityCount; ++p) {
          rejected[policy::toString(static_cast<policy::Priority>(p))] =
              c->rejectedTotal(static_cast<policy::Priority>(p));
        }
        workers.push_back({{"limit", a->limit.limit},
                           {"inflight", a->inflight},
                           {"queued", a->queued},
                           {"sheddable_limit", a->sheddable_limit},
                           {"no_load_rtt_ms", ms(a->limit.no_load_rtt)},
                           {"recent_rtt_ms", ms(a->limit.recent_rtt)},
                           {"gradient", a->limit.gradient},
                           {"samples", a->limit.samples},
                           {"app_limited", a->limit.app_limited},
                           {"rejected_by_priority", rejected},
                           {"shadow", a->shadow}});
      }
      j["load_shedding"] = {{"mode", route.load_shedding.adaptive ? "adaptive" : "fixed"},
                            {"min_limit", route.load_shedding.admission.limit.min_limit},
                            {"max_limit", route.load_shedding.admission.limit.max_limit},
                            {"max_queue_wait_ms", ms(route.load_shedding.admission.max_queue_wait)},
                            {"per_worker", workers}};
    }
    routes.push_back(std::move(j));
  }

  nlohmann::json clusters = nlohmann::json::array();
  std::vector<upstream::HealthExplain> health;
  if (health_) health = health_->explain();
  for (size_t c = 0; c < config_->clusters.size(); ++c) {
    const auto& cluster = config_->clusters[c];
    nlohmann::json endpoints = nlohmann::json::array();
    for (size_t e = 0; e < cluster.endpoints.size(); ++e) {
      nlohmann::json ep = {{"endpoint", cluster.endpoints[e].text}};
      for (const auto& h : health) {
        if (h.cluster == cluster.name && h.endpoint == cluster.endpoints[e].text) {
          ep["health"] = {{"healthy", h.healthy},
                          {"checks", h.checks},
                          {"consecutive_failures", h.consecutive_failures},
                          {"last_failure", h.last_failure}};
        }
      }
      nlohmann::json per_worker = nlohmann::json::array();
      for (const auto& report : latest_) {
        const auto& x = report->clusters[c][e];
        nlohmann::json w = {{"worker", report->worker},
                            {"ejected", x.ejected},
                            {"outstanding", x.outstanding},
                            {"peak_ewma_ms", x.peak_ewma_ms}};
        if (x.outlier) {
          const auto& o = *x.outlier;
          w["outlier"] = {{"reason", policy::toString(o.reason)},
                          {"times_ejected", o.times_ejected},
                          {"ejection_remaining_ms", ms(o.ejection_remaining)},
                          {"on_probation", o.on_probation},
                          {"consecutive_failures", o.consecutive_failures},
                          {"window_requests", o.window_requests},
                          {"window_success_rate", o.window_success_rate},
                          {"window_p90_ms", ms(o.window_p90)},
                          {"latency_threshold_ms", ms(o.latency_threshold)},
                          {"success_rate_threshold", o.success_rate_threshold}};
        }
        per_worker.push_back(std::move(w));
      }
      ep["workers"] = std::move(per_worker);
      endpoints.push_back(std::move(ep));
    }
    clusters.push_back(
        {{"cluster", cluster.name},
         {"lb", cluster.lb == config::LbPolicy::P2cEwma        ? "p2c_ewma"
                : cluster.lb == config::LbPolicy::LeastRequest ? "least_request"
                                                               : "round_robin"},
         {"outlier_detection", cluster.outlier_detection.enabled
                                   ? (cluster.outlier_detection.shadow ? "shadow" : "on")
                                   : "off"},
         {"endpoints", std::move(endpoints)}});
  }
  // "generation": complete rounds of worker reports behind this view (0: none yet).
  return {{"generation", completed_}, {"routes", routes}, {"clusters", clusters}};
}

}  // namespace rampart::server
