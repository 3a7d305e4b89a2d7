#pragma once
// OutlierDetector: ejects endpoints of one cluster that fail or are slow compared
// with their peers, for a growing time, and lets them back on probation.
//
// Algorithm.
//  * Consecutive failures (inline, in onResult): `consecutive_failures` failures
//    in a row eject at once.
//  * Windows: every endpoint counts requests, failures and a latency sketch in a
//    window shared by the whole cluster. evaluate() closes the window once it is
//    at least `interval` old and every non-ejected endpoint that saw traffic has
//    `min_requests` (or the window is `max_window_intervals` × interval old, so a
//    quiet endpoint cannot hold it open; a sweep up to 10% early still counts,
//    so timer jitter cannot skip an interval). One shared window means every endpoint
//    is judged on the same span of time: a cluster-wide slowdown that starts
//    mid-window hits everybody's evidence alike.
//  * Success-rate test, on endpoints with >= min_requests, each against the
//    OTHER tested endpoints (leave-one-out, so an outlier cannot inflate the σ
//    that would hide it). With mean μ and population σ of the others' success
//    rates, and U = the upper end of the Wilson score interval (z =
//    success_rate_z) of this endpoint's SR over its n requests:
//        eject when U < μ − max(k·σ, min_gap)
//    k = success_rate_stdev_factor (Envoy's mean − k·σ), min_gap a practical
//    significance floor, and U rather than SR so that binomial noise of a small
//    window (17/20 among 95% peers) is not an outlier. The relative test needs
//    `success_rate_min_endpoints` tested endpoints; smaller clusters (2
//    endpoints, where mean − k·σ is meaningless) use the absolute floor
//    instead: eject when SR < 1 − failure_rate_threshold and also U < μ −
//    min_gap, so a cluster-wide outage ejects nobody.
//  * Latency test (envoy#288): with m = median of the other tested endpoints'
//    p90, eject when p90 > max(latency_factor · m, m + latency_min_excess).
//    Failed requests' latencies count too: timeouts are latency evidence.
//  * Ejection time = base_ejection × times_ejected, capped at
//    max(max_ejection, base_ejection). The number of ejected endpoints never
//    exceeds ⌊n · max_ejection_percent / 100⌋, rounded up to 1 when that floor is
//    0, the percent is > 0 and n >= 2 (so 2 endpoints at 50% → 1, 5 at 10% → 1;
//    a sole endpoint is never ejected below 100%). When the cap refuses, the
//    worst candidates go first and the rest count in `skipped_by_cap`.
//  * Expiry puts the endpoint back on probation for `probation`: one failure on
//    probation re-ejects at once with the longer time (envoy#40697). Probation
//    ends once its time has passed and at least one request succeeded; then, and
//    after each further `probation` period without an ejection, times_ejected
//    drops by one, so the multiplier is forgotten gradually.
//
// Thread sharing: none. One instance per cluster, owned by one thread (a worker,
// or the main thread fed with the workers' results); explain() copies out.
// Memory: one LatencySketch (~8 KiB) per endpoint.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "policy/latency_sketch.h"
#include "policy/time.h"

namespace rampart::policy {

// Outlier-detection settings for one cluster.
struct OutlierConfig {
  uint32_t consecutive_failures = 5;  // failures in a row that eject at once; 0 disables
  bool success_rate = true;           // run the success-rate test on each window
  bool latency = true;                // run the latency test on each window
  Duration base_ejection = std::chrono::seconds(10);  // first ejection's length
  Duration max_ejection = std::chrono::seconds(300);  // cap on a grown ejection
  uint32_t max_ejection_percent = 50;                 // share of endpoints that may be out
  Duration interval = std::chrono::seconds(1);        // shortest evaluation window
  uint32_t min_requests = 20;              // per endpoint per window for the rate/latency tests
  double success_rate_stdev_factor = 1.9;  // k in μ − k·σ
  double failure_rate_threshold = 0.5;     // absolute floor: eject when SR < 1 − this
  double latency_factor = 3.0;             // p90 vs median of the others' p90
  Duration probation = std::chrono::seconds(10);  // probation length and decay period
  uint32_t success_rate_min_endpoints = 3;        // tested endpoints for the relative test
  double success_rate_min_gap = 0.1;              // SR must be this far below the others
  double success_rate_z = 3.0;                    // Wilson-interval width, in standard errors
  Duration latency_min_excess = std::chrono::milliseconds(2);  // p90 − m must exceed this
  uint32_t max_window_intervals = 10;  // a window closes after this many intervals anyway
};

// Why an endpoint was (last) ejected.
enum class EjectionReason : uint8_t {
  None,                 // never ejected
  ConsecutiveFailures,  // `consecutive_failures` failures in a row
  SuccessRate,          // success rate below the others' (or below the floor)
  Latency,              // p90 latency far above the others'
  ProbationFailure,     // a failure while on probation after an ejection
};

// A stable lower-case name for metrics labels and the admin view.
const char* toString(EjectionReason reason);

// One endpoint's state and the evidence behind it, for /policies.
struct EndpointOutlierState {
  size_t endpoint = 0;                           // index in the cluster
  bool ejected = false;                          // out of rotation now
  EjectionReason reason = EjectionReason::None;  // last ejection's reason
  TimePoint ejected_until{};                     // end of the current/last ejection
  Duration ejection_remaining{};                 // 0 when not ejected
  uint32_t times_ejected = 0;                    // current multiplier
  bool on_probation = false;                     // one failure re-ejects
  uint32_t consecutive_failures = 0;             // current run of failures
  uint64_t window_requests = 0;                  // last closed window: requests
  double window_success_rate = 1.0;              // last closed window: success rate
  Duration window_p90{};                         // last closed window: p90 latency
  double success_rate_threshold = 0.0;           // threshold it was held to (0: untested)
  double success_rate_upper = 1.0;               // Wilson upper bound compared with it
  Duration latency_threshold{};                  // threshold it was held to (0: untested)
  uint64_t current_requests = 0;                 // requests in the open window
};

// Cumulative counts, exported as metrics.
struct OutlierCounters {
  uint64_t ejected_consecutive_failures = 0;  // ejections for a run of failures
  uint64_t ejected_success_rate = 0;          // ejections by the success-rate test
  uint64_t ejected_latency = 0;               // ejections by the latency test
  uint64_t ejected_probation_failure = 0;     // re-ejections on probation
  uint64_t skipped_by_cap = 0;                // ejections a test asked for but the cap refused
  uint64_t returned = 0;                      // ejections that expired (endpoint on probation)
  uint64_t probation_passed = 0;              // probations completed without a failure
  uint64_t windows_evaluated = 0;             // windows closed and tested
};

class OutlierDetector {
 public:
  // A detector for `endpoint_count` endpoints, none ejected.
  OutlierDetector(OutlierConfig config, size_t endpoint_count);

  // Records one request's outcome (success=false for 5xx/reset/connect failure/
  // timeout); may eject at once on consecutive or probation failures. Results
  // for ejected or out-of-range endpoints are ignored.
  void onResult(size_t endpoint, TimePoint now, bool success, Duration latency);
  // The periodic sweep: ends expired ejections, advances probation, retries
  // consecutive-failure ejections the cap refused, and closes/tests the window.
  void evaluate(TimePoint now);

  // True while `endpoint` is ejected (false for out-of-range indices).
  bool isEjected(size_t endpoint) const;
  // Number of endpoints ejected now.
  size_t ejectedCount() const { return ejected_count_; }
  // Most endpoints that may be ejected at once (see the rounding rule above).
  size_t maxEjected() const { return max_ejected_; }
  // Number of endpoints in the cluster.
  size_t endpointCount() const { return endpoints_.size(); }
  // Every endpoint's state and evidence at `now`.
  std::vector<EndpointOutlierState> explain(TimePoint now) const;
  // Cumulative counters.
  const OutlierCounters& counters() const { return counters_; }

 private:
  struct Window {
    uint64_t requests = 0;
    uint64_t failures = 0;
    LatencySketch latency;
  };
  struct Endpoint {
    Window window;
    bool ejected = false;
    bool on_probation = false;
    EjectionReason reason = EjectionReason::None;
    TimePoint ejected_until{};
    TimePoint probation_until{};
    TimePoint decay_at{};
    uint32_t times_ejected = 0;
    uint32_t consecutive_failures = 0;
    uint64_t probation_successes = 0;
    // Evidence of the last closed window.
    uint64_t last_requests = 0;
    double last_success_rate = 1.0;
    Duration last_p90{};
    double last_sr_threshold = 0.0;
    double last_sr_upper = 1.0;
    Duration last_latency_threshold{};
  };
  struct Candidate {
    size_t endpoint;
    EjectionReason reason;
    double severity;  // larger = worse; orders ejections when the cap binds
  };

  bool eject(size_t endpoint, EjectionReason reason, TimePoint now);
  void countEjection(EjectionReason reason);
  void expireAndDecay(TimePoint now);
  bool windowDue(TimePoint now) const;
  void closeWindow(TimePoint now);
  void testSuccessRate(const std::vector<size_t>& tested, std::vector<Candidate>& out);
  void testLatency(const std::vector<size_t>& tested, std::vector<Candidate>& out);

  OutlierConfig config_;
  std::vector<Endpoint> endpoints_;
  size_t max_ejected_ = 0;
  size_t ejected_count_ = 0;
  bool window_started_ = false;
  TimePoint window_start_{};
  OutlierCounters counters_;
};

}  // namespace rampart::policy
