#pragma once
// Per-worker metrics. Each worker owns its own WorkerStats and is the only
// writer, so an increment is a relaxed load and store (no lock prefix, no
// shared cache line); the admin thread sums the workers' values at scrape time.
// Each component declares its metrics once, in the lists below.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <vector>

#include "policy/time.h"

namespace rampart::stats {

// A monotonically increasing count with one writer thread.
class Counter {
 public:
  void inc(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A level that goes up and down, with one writer thread.
class Gauge {
 public:
  void add(int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void inc() { add(1); }
  void dec() { add(-1); }
  void set(int64_t n) { v_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// A latency histogram with fixed Prometheus buckets (seconds), one writer thread.
class Histogram {
 public:
  static constexpr std::array<double, 16> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  // Records one observation.
  void observe(policy::Duration d);
  // Bucket i counts observations <= kBounds[i]; the last counts the rest (+Inf).
  uint64_t bucket(size_t i) const { return buckets_[i].value(); }
  uint64_t count() const { return count_.value(); }
  double sumSeconds() const { return static_cast<double>(sum_us_.value()) / 1e6; }

 private:
  std::array<Counter, kBounds.size() + 1> buckets_;
  Counter count_;
  Counter sum_us_;
};

// A histogram of batch sizes (rows), one writer thread.
class SizeHistogram {
 public:
  static constexpr std::array<double, 11> kBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  void observe(uint64_t rows);
  uint64_t bucket(size_t i) const { return buckets_[i].value(); }
  uint64_t count() const { return count_.value(); }
  double sum() const { return static_cast<double>(sum_.value()); }

 private:
  std::array<Counter, kBounds.size() + 1> buckets_;
  Counter count_;
  Counter sum_;
};

// Listener metrics: NAME, HELP.
#define RAMPART_LISTENER_COUNTERS(X)                                                             \
  X(downstream_connections_total, "Downstream connections accepted")                             \
  X(downstream_connections_refused_total, "Downstream connections refused over max_connections") \
  X(downstream_bytes_received_total, "Bytes received from downstream clients")                   \
  X(downstream_bytes_sent_total, "Bytes sent to downstream clients")                             \
  X(downstream_bad_requests_total, "Malformed requests answered 400")                            \
  X(downstream_headers_too_large_total, "Requests answered 431")                                 \
  X(downstream_body_too_large_total, "Requests answered 413")                                    \
  X(downstream_timeouts_total, "Slow or idle clients answered 408")                        \
  X(downstream_http1_requests_total, "Requests received over HTTP/1.x")                     \
  X(downstream_http2_requests_total, "Requests (streams) received over HTTP/2")             \
  X(downstream_http2_connections_total, "Downstream connections that speak HTTP/2")         \
  X(downstream_http2_protocol_errors_total, "HTTP/2 connections closed for a protocol error or flood") \
  X(downstream_tls_handshakes_total, "Completed TLS handshakes")                            \
  X(downstream_tls_handshake_failures_total, "TLS handshakes that failed (bad or missing client certificate, ...)")
#define RAMPART_LISTENER_GAUGES(X) X(downstream_connections_active, "Open downstream connections")

// Cluster metrics (upstream side).
#define RAMPART_CLUSTER_COUNTERS(X)                                                               \
  X(upstream_requests_total, "Requests sent to upstream endpoints (attempts)")                    \
  X(upstream_connections_total, "Upstream connections opened")                                    \
  X(upstream_connect_failures_total, "Upstream connects that failed or timed out")                \
  X(upstream_resets_total, "Upstream connections reset before the response ended")                \
  X(upstream_timeouts_total, "Attempts that timed out, and requests that reached their deadline") \
  X(upstream_pending_overflow_total, "Requests refused because the pool queue was full")          \
  X(upstream_bytes_sent_total, "Bytes sent to upstream endpoints")                                \
  X(upstream_bytes_received_total, "Bytes received from upstream endpoints")
#define RAMPART_CLUSTER_GAUGES(X) X(upstream_connections_active, "Open upstream connections")

// Per-endpoint metrics (labels: cluster, endpoint).
#define RAMPART_ENDPOINT_COUNTERS(X)                                                        \
  X(endpoint_requests_total, "Attempts sent to the endpoint")                               \
  X(endpoint_failures_total, "Attempts that failed: 5xx, reset, connect failure, timeout")  \
  X(outlier_ejections_consecutive_total, "Ejections for consecutive failures")              \
  X(outlier_ejections_success_rate_total, "Ejections for a low success rate")               \
  X(outlier_ejections_latency_total, "Ejections for latency far above the other endpoints") \
  X(outlier_ejections_probation_total, "Re-ejections for a failure while on probation")
#define RAMPART_ENDPOINT_GAUGES(X)                                                               \
  X(endpoint_ejected, "1 while the endpoint is ejected by outlier detection (shadow: would be)") \
  X(endpoint_outstanding, "Attempts in flight to the endpoint")                                  \
  X(endpoint_peak_ewma_microseconds, "Peak-EWMA latency estimate used by p2c_ewma")

// Per-route policy decisions (labels: route).
#define RAMPART_ROUTE_COUNTERS(X)                                                               \
  X(retries_total, "Retries sent")                                                              \
  X(retries_budget_exhausted_total, "Retries refused by the retry budget")                      \
  X(retries_attempts_exhausted_total, "Failures left unretried: every attempt was used")        \
  X(retries_deadline_exceeded_total, "Retries not sent because the deadline was too close")     \
  X(attempt_timeouts_total, "Attempts that hit the per-attempt timeout")                        \
  X(hedges_total, "Hedged (backup) attempts sent")                                              \
  X(hedges_won_total, "Requests answered by a hedged attempt")                                  \
  X(hedges_budget_exhausted_total, "Hedges refused by the hedge budget")                        \
  X(hedges_shadow_total, "Hedges a shadow policy would have sent")                              \
  X(deadline_exceeded_total, "Requests answered 504 when their deadline passed")                \
  X(shed_total, "Requests refused by load shedding (503)")                                      \
  X(shed_shadow_total, "Requests a shadow load shedder would have refused")                     \
  X(shed_critical_total, "Critical-priority requests refused by load shedding")                 \
  X(shed_sheddable_total, "Sheddable-priority requests refused by load shedding")               \
  X(admission_queued_total, "Requests that waited in the admission queue")                      \
  X(batched_requests_total, "Requests answered through an upstream batch")                      \
  X(batch_passthrough_total, "Requests on a batching route forwarded unbatched")                \
  X(batches_total, "Batched upstream calls sent")                                               \
  X(batch_dispatch_full_total, "Batches sent because they reached the size cap")                \
  X(batch_dispatch_window_total, "Batches sent because the window expired")                     \
  X(batch_dispatch_idle_total, "Batches sent at once to an idle backend")                       \
  X(batch_dispatch_deadline_total, "Batches sent early to meet a deadline")                     \
  X(batch_failures_total, "Batched calls that failed as a whole")                               \
  X(batch_isolations_total, "Failed batches split in halves to find the poison input")          \
  X(batch_refused_total, "Requests refused before batching: queue full or deadline unmeetable") \
  X(batch_expired_total, "Requests whose deadline passed while waiting for a batch")            \
  X(batch_cancelled_total, "Requests removed from a pending batch because the client left")
#define RAMPART_ROUTE_GAUGES(X)                                                  \
  X(timeout_microseconds, "The per-attempt timeout in force (learned or fixed)") \
  X(hedge_delay_microseconds, "The hedge delay in force (learned or fixed)")     \
  X(concurrency_limit, "The admission concurrency limit (load shedding)")        \
  X(admission_inflight, "Requests holding an admission permit")                  \
  X(admission_queue_length, "Requests waiting for admission")

#define RAMPART_DECLARE_COUNTER(name, help) Counter name;
#define RAMPART_DECLARE_GAUGE(name, help) Gauge name;

struct ListenerStats {
  RAMPART_LISTENER_COUNTERS(RAMPART_DECLARE_COUNTER)
  RAMPART_LISTENER_GAUGES(RAMPART_DECLARE_GAUGE)
};

struct EndpointStats {
  RAMPART_ENDPOINT_COUNTERS(RAMPART_DECLARE_COUNTER)
  RAMPART_ENDPOINT_GAUGES(RAMPART_DECLARE_GAUGE)
};

struct ClusterStats {
  explicit ClusterStats(size_t endpoint_count = 0) : endpoints(endpoint_count) {}
  RAMPART_CLUSTER_COUNTERS(RAMPART_DECLARE_COUNTER)
  RAMPART_CLUSTER_GAUGES(RAMPART_DECLARE_GAUGE)
  Histogram upstream_request_duration;  // first byte sent → last byte received
  std::vector<EndpointStats> endpoints;
};

// Responses by status class: index 1..5 for 1xx..5xx; 0 when no response was sent.
struct StatusClassCounters {
  std::array<Counter, 6> by_class;
  void record(int status) { by_class[status >= 100 && status < 600 ? status / 100 : 0].inc(); }
};

struct RouteStats {
  explicit RouteStats(size_t clusters) : responses(clusters + 1) {}
  RAMPART_ROUTE_COUNTERS(RAMPART_DECLARE_COUNTER)
  RAMPART_ROUTE_GAUGES(RAMPART_DECLARE_GAUGE)
  // One entry per route cluster, plus a last one for answers given before a cluster was chosen.
  std::vector<StatusClassCounters> responses;
  Histogram request_duration;  // request head received → response finished
  SizeHistogram batch_size;    // rows per batched upstream call
  Histogram batch_queue_wait;  // time a request waited for its batch to be sent
};

// All metrics of one worker for one config generation. Layout mirrors the config:
// listeners, clusters and routes by index, plus a final route for "no route matched".
struct WorkerStats {
  WorkerStats(size_t listeners, const std::vector<size_t>& endpoints_per_cluster,
              const std::vector<size_t>& clusters_per_route);
  std::vector<ListenerStats> listeners;
  std::deque<ClusterStats> clusters;
  std::deque<RouteStats> routes;  // deque: stats never move once created
};

}  // namespace rampart::stats
