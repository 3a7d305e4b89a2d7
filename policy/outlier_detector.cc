#include "policy/outlier_detector.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace rampart::policy {
namespace {

// ⌊n·pct/100⌋, but at least one when ejection is enabled and another endpoint
// would remain: a 10% cap on a 5-endpoint cluster must not silently mean "never"
// (envoy#34666).
size_t computeMaxEjected(size_t n, uint32_t percent) {
  const size_t pct = std::min<uint32_t>(percent, 100);
  size_t cap = n * pct / 100;
  if (cap == 0 && pct > 0 && n >= 2) cap = 1;
  return cap;
}

double successRate(uint64_t requests, uint64_t failures) {
  if (requests == 0) return 1.0;
  return static_cast<double>(requests - failures) / static_cast<double>(requests);
}

// Upper end of the Wilson score interval for a success rate p over n trials at
// z standard errors: what the true rate could still be, given so few requests.
double wilsonUpper(double p, double n, double z) {
  if (n <= 0) return 1.0;
  const double z2n = z * z / n;
  const double center = p + z2n / 2.0;
  const double spread = z * std::sqrt(p * (1.0 - p) / n + z2n / (4.0 * n));
  return std::min(1.0, (center + spread) / (1.0 + z2n));
}

Duration median(std::vector<Duration> values) {
  assert(!values.empty());
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(mid), values.end());
  Duration upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const Duration lower =
      *std::max_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(mid));
  return lower + (upper - lower) / 2;
}

}  // namespace

const char* toString(EjectionReason reason) {
  switch (reason) {
    case EjectionReason::None:
      return "none";
    case EjectionReason::ConsecutiveFailures:
      return "consecutive_failures";
    case EjectionReason::SuccessRate:
      return "success_rate";
    case EjectionReason::Latency:
      return "latency";
    case EjectionReason::ProbationFailure:
      return "probation_failure";
  }
  return "unknown";
}

OutlierDetector::OutlierDetector(OutlierConfig config, size_t endpoint_count)
    : config_(config), endpoints_(endpoint_count) {
  config_.base_ejection = std::max(config_.base_ejection, Duration(std::chrono::milliseconds(1)));
  config_.max_ejection = std::max(config_.max_ejection, config_.base_ejection);
  config_.max_window_intervals = std::max<uint32_t>(config_.max_window_intervals, 1);
  max_ejected_ = computeMaxEjected(endpoint_count, config_.max_ejection_percent);
}

void OutlierDetector::onResult(size_t endpoint, TimePoint now, bool success, Duration latency) {
  assert(endpoint < endpoints_.size());
  if (endpoint >= endpoints_.size()) return;
  if (!window_started_) {
    window_started_ = true;
    window_start_ = now;
  }
  Endpoint& ep = endpoints_[endpoint];
  // A late response from an ejected endpoint says nothing about its next turn.
  if (ep.ejected) return;
  ep.window.requests++;
  ep.window.latency.record(latency);
  if (success) {
    ep.consecutive_failures = 0;
    if (ep.on_probation) ep.probation_successes++;
    return;
  }
  ep.window.failures++;
  ep.consecutive_failures++;
  if (ep.on_probation) {
    // The endpoint already proved bad once: do not wait for a full run again.
    eject(endpoint, EjectionReason::ProbationFailure, now);
  } else if (config_.consecutive_failures > 0 &&
             ep.consecutive_failures >= config_.consecutive_failures) {
    eject(endpoint, EjectionReason::ConsecutiveFailures, now);
  }
}

void OutlierDetector::evaluate(TimePoint now) {
  if (!window_started_) {
    window_started_ = true;
    window_start_ = now;
  }
  expireAndDecay(now);
  // Runs the cap refused earlier get another chance now that slots may be free.
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint& ep = endpoints_[i];
    if (!ep.ejected && config_.consecutive_failures > 0 &&
        ep.consecutive_failures >= config_.consecutive_failures) {
      eject(i, EjectionReason::ConsecutiveFailures, now);
    }
  }
  if (windowDue(now)) closeWindow(now);
}

bool OutlierDetector::isEjected(size_t endpoint) const {
  return endpoint < endpoints_.size() && endpoints_[endpoint].ejected;
}

bool OutlierDetector::eject(size_t endpoint, EjectionReason reason, TimePoint now) {
  Endpoint& ep = endpoints_[endpoint];
  if (ep.ejected) return false;
  if (ejected_count_ >= max_ejected_) {
    counters_.skipped_by_cap++;
    return false;
  }
  ep.ejected = true;
  ep.on_probation = false;
  ep.reason = reason;
  ep.times_ejected++;
  const auto multiplier = static_cast<Duration::rep>(ep.times_ejected);
  // Compare before multiplying so a huge multiplier cannot overflow.
  const Duration length = multiplier > config_.max_ejection / config_.base_ejection
                              ? config_.max_ejection
                              : std::min(config_.base_ejection * multiplier, config_.max_ejection);
  ep.ejected_until = now + length;
  ep.consecutive_failures = 0;
  ejected_count_++;
  countEjection(reason);
  return true;
}

void OutlierDetector::countEjection(EjectionReason reason) {
  switch (reason) {
    case EjectionReason::ConsecutiveFailures:
      counters_.ejected_consecutive_failures++;
      break;
    case EjectionReason::SuccessRate:
      counters_.ejected_success_rate++;
      break;
    case EjectionReason::Latency:
      counters_.ejected_latency++;
      break;
    case EjectionReason::ProbationFailure:
      counters_.ejected_probation_failure++;
      break;
    case EjectionReason::None:
      break;
  }
}

void OutlierDetector::expireAndDecay(TimePoint now) {
  for (Endpoint& ep : endpoints_) {
    if (ep.ejected) {
      if (now < ep.ejected_until) continue;
      ep.ejected = false;
      ep.on_probation = true;
      ep.probation_until = now + config_.probation;
      ep.probation_successes = 0;
      ep.window = Window{};  // evidence from before the ejection is stale
      ejected_count_--;
      counters_.returned++;
      continue;
    }
    if (ep.on_probation) {
      // Without a single success the endpoint has not shown it works yet.
      if (now < ep.probation_until || ep.probation_successes == 0) continue;
      ep.on_probation = false;
      counters_.probation_passed++;
      if (ep.times_ejected > 0) ep.times_ejected--;
      ep.decay_at = now + config_.probation;
    } else if (ep.times_ejected > 0 && now >= ep.decay_at) {
      ep.times_ejected--;
      ep.decay_at = now + config_.probation;
    }
  }
}

bool OutlierDetector::windowDue(TimePoint now) const {
  // A sweep timer that fires a little early must not skip a whole interval.
  const Duration age = now - window_start_ + config_.interval / 10;
  if (age < config_.interval) return false;
  if (age >= config_.interval * config_.max_window_intervals) return true;
  for (const Endpoint& ep : endpoints_) {
    if (!ep.ejected && ep.window.requests > 0 && ep.window.requests < config_.min_requests) {
      return false;
    }
  }
  return true;
}

void OutlierDetector::closeWindow(TimePoint now) {
  std::vector<size_t> tested;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& ep = endpoints_[i];
    ep.last_sr_threshold = 0.0;
    ep.last_sr_upper = 1.0;
    ep.last_latency_threshold = Duration::zero();
    if (ep.ejected) continue;
    ep.last_requests = ep.window.requests;
    ep.last_success_rate = successRate(ep.window.requests, ep.window.failures);
    ep.last_p90 = ep.window.latency.quantile(0.9);
    if (ep.window.requests >= std::max<uint32_t>(config_.min_requests, 1)) tested.push_back(i);
  }
  std::vector<Candidate> candidates;
  if (config_.success_rate) testSuccessRate(tested, candidates);
  if (config_.latency) testLatency(tested, candidates);
  // Worst first, so the cap keeps the most harmful endpoints out.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.severity > b.severity; });
  std::vector<bool> handled(endpoints_.size(), false);
  for (const Candidate& c : candidates) {
    if (handled[c.endpoint]) continue;  // failed both tests: one ejection, one cap check
    handled[c.endpoint] = true;
    eject(c.endpoint, c.reason, now);
  }
  for (Endpoint& ep : endpoints_) ep.window = Window{};
  window_start_ = now;
  counters_.windows_evaluated++;
}

void OutlierDetector::testSuccessRate(const std::vector<size_t>& tested,
                                      std::vector<Candidate>& out) {
  const bool relative = tested.size() >= std::max<uint32_t>(config_.success_rate_min_endpoints, 2);
  const double floor = 1.0 - config_.failure_rate_threshold;
  for (size_t i : tested) {
    Endpoint& ep = endpoints_[i];
    double sum = 0;
    double sum_sq = 0;
    for (size_t j : tested) {
      if (j == i) continue;
      sum += endpoints_[j].last_success_rate;
      sum_sq += endpoints_[j].last_success_rate * endpoints_[j].last_success_rate;
    }
    const auto others = static_cast<double>(tested.size() - 1);
    const double sr = ep.last_success_rate;
    const double upper =
        wilsonUpper(sr, static_cast<double>(ep.last_requests), config_.success_rate_z);
    ep.last_sr_upper = upper;
    bool outlier = false;
    double threshold = floor;
    if (tested.size() == 1) {
      outlier = sr < floor;
    } else {
      const double mean = sum / others;
      const double stdev = std::sqrt(std::max(0.0, sum_sq / others - mean * mean));
      const double gap =
          std::max(config_.success_rate_stdev_factor * stdev, config_.success_rate_min_gap);
      // Floor: bad in absolute terms AND surely worse than the others (not an outage).
      const bool below_floor = sr < floor && upper < mean - config_.success_rate_min_gap;
      const bool below_relative = relative && upper < mean - gap;
      outlier = below_floor || below_relative;
      threshold = relative ? mean - gap : std::min(floor, mean - config_.success_rate_min_gap);
    }
    ep.last_sr_threshold = threshold;
    // Severity above any latency severity's range: failures hurt more than slowness.
    if (outlier) out.push_back({i, EjectionReason::SuccessRate, 10.0 + (1.0 - sr)});
  }
}

void OutlierDetector::testLatency(const std::vector<size_t>& tested, std::vector<Candidate>& out) {
  if (tested.size() < 2) return;
  for (size_t i : tested) {
    Endpoint& ep = endpoints_[i];
    std::vector<Duration> others;
    others.reserve(tested.size() - 1);
    for (size_t j : tested) {
      if (j != i) others.push_back(endpoints_[j].last_p90);
    }
    const Duration m = median(std::move(others));
    const auto scaled =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double, Duration::period>(
            config_.latency_factor * static_cast<double>(m.count())));
    const Duration threshold = std::max(scaled, m + config_.latency_min_excess);
    ep.last_latency_threshold = threshold;
    if (ep.last_p90 > threshold) {
      const double ratio = static_cast<double>(ep.last_p90.count()) /
                           static_cast<double>(std::max<Duration::rep>(threshold.count(), 1));
      out.push_back({i, EjectionReason::Latency, std::min(ratio, 9.0)});
    }
  }
}

std::vector<EndpointOutlierState> OutlierDetector::explain(TimePoint now) const {
  std::vector<EndpointOutlierState> states;
  states.reserve(endpoints_.size());
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint& ep = endpoints_[i];
    EndpointOutlierState s;
    s.endpoint = i;
    s.ejected = ep.ejected;
    s.reason = ep.reason;
    s.ejected_until = ep.ejected_until;
    s.ejection_remaining =
        ep.ejected && ep.ejected_until > now ? ep.ejected_until - now : Duration::zero();
    s.times_ejected = ep.times_ejected;
    s.on_probation = ep.on_probation;
    s.consecutive_failures = ep.consecutive_failures;
    s.window_requests = ep.last_requests;
    s.window_success_rate = ep.last_success_rate;
    s.window_p90 = ep.last_p90;
    s.success_rate_threshold = ep.last_sr_threshold;
    s.success_rate_upper = ep.last_sr_upper;
    s.latency_threshold = ep.last_latency_threshold;
    s.current_requests = ep.window.requests;
    states.push_back(s);
  }
  return states;
}

}  // namespace rampart::policy
