#include "proxy/upstream/cluster.h"

#include "proxy/common/log.h"

namespace rampart::upstream {

namespace {
const char* balancerName(config::LbPolicy lb) {
  switch (lb) {
    case config::LbPolicy::RoundRobin:
      return "round_robin";
    case config::LbPolicy::LeastRequest:
      return "least_request";
    case config::LbPolicy::P2cEwma:
      return "p2c_ewma";
  }
  return "round_robin";
}
}  // namespace

UpstreamCluster::UpstreamCluster(event::Dispatcher& dispatcher, const config::ClusterConfig& config,
                                 size_t cluster_index, stats::ClusterStats& stats,
                                 const HealthState* health)
    : dispatcher_(dispatcher),
      config_(config),
      index_(cluster_index),
      stats_(stats),
      health_(health),
      balancer_(policy::makeBalancer(balancerName(config.lb))) {
  endpoints_.resize(config.endpoints.size());
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    endpoints_[i].pool = makePool(dispatcher, config, config.endpoints[i].address, stats);
  }
  loads_.resize(endpoints_.size());
  if (config.outlier_detection.enabled && !endpoints_.empty()) {
    outliers_ = std::make_unique<policy::OutlierDetector>(config.outlier_detection.policy,
                                                          endpoints_.size());
    outlier_timer_ = std::make_unique<event::Timer>(dispatcher, [this] {
      evaluateOutliers();
      outlier_timer_->enable(config_.outlier_detection.policy.interval);
    });
    outlier_timer_->enable(config.outlier_detection.policy.interval);
  }
}

UpstreamCluster::~UpstreamCluster() = default;

bool UpstreamCluster::ejected(size_t endpoint) const {
  return outliers_ && !config_.outlier_detection.shadow && outliers_->isEjected(endpoint);
}

std::optional<policy::Pick> UpstreamCluster::pickEndpoint(const policy::TriedSet& tried,
                                                          policy::Rng& rng) {
  const auto now = dispatcher_.now();
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const bool healthy = !health_ || health_->healthy(index_, i);
    loads_[i].available = healthy && !ejected(i);
    loads_[i].outstanding = endpoints_[i].outstanding;
    loads_[i].cost_ms = endpoints_[i].ewma.estimateMillis(now);
  }
  return balancer_->pick(loads_, tried, rng);
}

void UpstreamCluster::onAttemptStart(size_t endpoint) {
  auto& e = endpoints_[endpoint];
  ++e.outstanding;
  stats_.endpoints[endpoint].endpoint_requests_total.inc();
  stats_.endpoints[endpoint].endpoint_outstanding.set(e.outstanding);
}

void UpstreamCluster::onAttemptDone(size_t endpoint) {
  auto& e = endpoints_[endpoint];
  if (e.outstanding > 0) --e.outstanding;
  stats_.endpoints[endpoint].endpoint_outstanding.set(e.outstanding);
}

void UpstreamCluster::onAttemptResult(size_t endpoint, AttemptResult result,
                                      policy::Duration latency) {
  if (result == AttemptResult::Cancelled) return;
  auto& e = endpoints_[endpoint];
  auto& es = stats_.endpoints[endpoint];
  const auto now = dispatcher_.now();
  const bool success = result == AttemptResult::Success;
  if (success || result == AttemptResult::TimedOut) {
    // A timeout is a latency sample, not an error: the peak jumps to it, but without the
    // error penalty that would make a merely queued endpoint look broken.
    e.ewma.observeSuccess(now, latency);
  } else {
    e.ewma.observeFailure(now, latency);
  }
  if (!success) es.endpoint_failures_total.inc();
  es.endpoint_peak_ewma_microseconds.set(static_cast<int64_t>(e.ewma.estimateMillis(now) * 1000));
  if (outliers_) {
    // Slowness is the latency test's business; only errors count against the success rate.
    outliers_->onResult(endpoint, now, result != AttemptResult::Failure, latency);
    syncEjectionMetrics();
  }
}

void UpstreamCluster::evaluateOutliers() {
  outliers_->evaluate(dispatcher_.now());
  syncEjectionMetrics();
}

void UpstreamCluster::syncEjectionMetrics() {
  const auto now = dispatcher_.now();
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const bool out = outliers_->isEjected(i);
    auto& e = endpoints_[i];
    if (out == e.was_ejected) continue;
    e.was_ejected = out;
    auto& es = stats_.endpoints[i];
    es.endpoint_ejected.set(out ? 1 : 0);
    if (!out) {
      // Back on probation: start it at twice the worst latency among its peers, so the
      // balancer sends it a trickle until fresh samples show it is healthy again.
      double worst = 0;
      for (size_t j = 0; j < endpoints_.size(); ++j) {
        if (j != i) worst = std::max(worst, endpoints_[j].ewma.estimateMillis(now));
      }
      e.ewma.reset();
      e.ewma.observeSuccess(now, policy::fromMillis(std::max(worst * 2, 1.0)));
      log::info("endpoint returned",
                {{"cluster", config_.name}, {"endpoint", config_.endpoints[i].text}});
      continue;
    }
    const auto state = outliers_->explain(now)[i];
    switch (state.reason) {
      case policy::EjectionReason::ConsecutiveFailures:
        es.outlier_ejections_consecutive_total.inc();
        break;
      case policy::EjectionReason::SuccessRate:
        es.outlier_ejections_success_rate_total.inc();
        break;
      case policy::EjectionReason::Latency:
        es.outlier_ejections_latency_total.inc();
        break;
      case policy::EjectionReason::ProbationFailure:
        es.outlier_ejections_probation_total.inc();
        break;
      case policy::EjectionReason::None:
        break;
    }
    log::info(config_.outlier_detection.shadow ? "endpoint would be ejected (shadow)"
                                               : "endpoint ejected",
              {{"cluster", config_.name},
               {"endpoint", config_.endpoints[i].text},
               {"reason", policy::toString(state.reason)},
               {"times_ejected", static_cast<uint64_t>(state.times_ejected)}});
  }
}

std::vector<EndpointExplain> UpstreamCluster::explain() const {
  const auto now = dispatcher_.now();
  std::vector<policy::EndpointOutlierState> outlier;
  if (outliers_) outlier = outliers_->explain(now);
  std::vector<EndpointExplain> out;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    EndpointExplain e{config_.endpoints[i].text,
                      !health_ || health_->healthy(index_, i),
                      outliers_ && outliers_->isEjected(i),
                      endpoints_[i].outstanding,
                      endpoints_[i].ewma.estimateMillis(now),
                      std::nullopt};
    if (outliers_) e.outlier = outlier[i];
    out.push_back(std::move(e));
  }
  return out;
}

void UpstreamCluster::closeIdle() {
  for (auto& e : endpoints_) e.pool->closeIdle();
}

}  // namespace rampart::upstream
