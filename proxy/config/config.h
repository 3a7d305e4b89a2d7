#pragma once
// The immutable, validated configuration. Loaded once per (re)load by
// config_loader.h and shared read-only by every thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/admission_queue.h"
#include "policy/backoff.h"
#include "policy/batch_window.h"
#include "policy/hedge_policy.h"
#include "policy/outlier_detector.h"
#include "policy/retry_budget.h"
#include "policy/time.h"
#include "proxy/event/address.h"
#include "proxy/http/http2_limits.h"
#include "proxy/tls/tls_context.h"

namespace rampart::config {

using policy::Duration;

struct AdminConfig {
  event::SocketAddress address;
};

struct LimitsConfig {
  uint64_t max_header_bytes;             // request line + headers; over → 431
  uint64_t max_body_bytes;               // request body; over → 413
  Duration header_timeout;               // time to receive a full request head; over → 408
  Duration idle_timeout;                 // keep-alive connection with no request in flight
  uint32_t max_connections;              // downstream connections per listener, all workers
  uint32_t max_requests_per_connection;  // 0 = unlimited
};

struct ListenerTlsConfig {
  bool enabled = false;
  tls::ServerTlsConfig files;                // cert, key, client_ca (mTLS when set)
  std::string identity_header;               // lower-case; carries the verified client identity
  std::shared_ptr<tls::TlsContext> context;  // built (and files read) at load time
};

struct ListenerConfig {
  std::string name;
  event::SocketAddress address;
  ListenerTlsConfig tls;
  http::Http2Limits http2;  // downstream HTTP/2 limits
};

enum class UpstreamProtocol {
  Http1,  // HTTP/1.1 with keep-alive
  H2,     // HTTP/2 (h2c, or h2 over TLS)
};

enum class LbPolicy {
  RoundRobin,    // each endpoint in turn
  LeastRequest,  // power of two choices on outstanding requests
  P2cEwma,       // power of two choices on peak-EWMA latency × outstanding
};

struct EndpointConfig {
  std::string text;  // as written in the config, for labels and logs
  event::SocketAddress address;
};

// Active HTTP health checking of each endpoint (main thread).
struct HealthCheckConfig {
  bool enabled = false;
  std::string path;
  Duration interval;
  Duration timeout;
  uint32_t healthy_threshold;    // successes in a row to mark healthy
  uint32_t unhealthy_threshold;  // failures in a row to mark unhealthy
};

// Passive outlier detection (per worker); the policy's own config plus switches.
struct OutlierDetectionConfig {
  bool enabled = false;
  bool shadow = false;  // evaluate and report, never eject
  policy::OutlierConfig policy;
};

struct ClusterTlsConfig {
  bool enabled = false;
  tls::ClientTlsConfig files;  // ca, cert, key, sni
  std::shared_ptr<tls::TlsContext> context;
};

struct ClusterConfig {
  std::string name;
  UpstreamProtocol protocol;
  std::vector<EndpointConfig> endpoints;
  LbPolicy lb;
  Duration connect_timeout;
  uint32_t max_connections_per_endpoint;  // per worker
  uint32_t max_pending_requests;          // waiting for a connection, per worker
  Duration upstream_idle_timeout;         // idle pooled connections are closed after this
  HealthCheckConfig health_check;
  OutlierDetectionConfig outlier_detection;
  ClusterTlsConfig tls;
  http::Http2Limits http2;  // upstream HTTP/2 (protocol: h2)
};

struct HeaderMatch {
  std::string name;   // lower-case
  std::string value;  // exact value
};

struct RouteMatch {
  std::optional<std::string> path_exact;
  std::optional<std::string> path_prefix;
  std::vector<std::string> methods;            // empty = any
  std::vector<HeaderMatch> headers;            // all must match
  std::optional<std::string> host;             // exact, case-insensitive, port ignored
  std::optional<std::string> client_identity;  // the mTLS peer identity (URI SAN or subject), exact
};

struct WeightedCluster {
  std::string name;
  uint32_t weight;
  size_t cluster_index;  // into Config::clusters
};

struct TimeoutSpec {
  bool learned;       // derive from the route's latency sketch
  bool shadow;        // learned: report the learned value, enforce `max`
  Duration fixed;     // the timeout when not learned
  double quantile;    // learned: which quantile of latency
  double multiplier;  // learned: timeout = clamp(multiplier × quantile, min, max)
  Duration min;
  Duration max;
};

// Which outcomes of an attempt may be retried.
struct RetryOn {
  bool server_error = false;     // any 5xx response
  bool gateway_error = false;    // 502, 503, 504
  bool reset = false;            // connection reset/closed before a full response head
  bool connect_failure = false;  // connect refused, timed out, no endpoint, pool overflow
  bool timeout = false;          // the per-attempt timeout expired
  std::vector<int> statuses;     // explicit HTTP statuses
  std::vector<int> grpc_codes;   // gRPC status codes (from headers or trailers)
};

struct RetryConfig {
  bool enabled = false;
  uint32_t attempts = 1;  // total attempts including the first
  RetryOn on;
  std::vector<std::string> methods;  // retryable methods; empty = idempotent ones only
  policy::RetryBudgetConfig budget;  // per process; each worker gets min_per_second / workers
  policy::BackoffConfig backoff;
  uint64_t buffer_limit = 0;  // request bodies larger than this are never retried
};

struct HedgeConfig {
  bool enabled = false;
  bool shadow = false;  // count the hedges it would send, send none
  policy::HedgePolicyConfig policy;
};

struct SheddingConfig {
  bool enabled = false;
  bool adaptive = true;         // adaptive limit, or fixed at max_limit
  std::string priority_header;  // lower-case; empty = every request is normal
  policy::AdmissionConfig admission;
};

struct BatchingConfig {
  bool enabled = false;
  std::string format;                // kserve_v2 | tfserving | openai_embeddings
  bool learned = true;               // learned window, or static (Triton's rule)
  policy::BatchWindowConfig window;  // slo, max_batch_size, max_delay (nullopt = learned)
  uint32_t max_queue = 0;            // rows waiting across workers; more get 503
  bool isolate_failures = true;      // bisect a failed batch to find the poison input
};

struct RouteConfig {
  std::string name;
  RouteMatch match;
  std::vector<WeightedCluster> clusters;  // one, or weighted
  TimeoutSpec timeout;
  RetryConfig retry;
  HedgeConfig hedge;
  SheddingConfig load_shedding;
  BatchingConfig batching;
};

struct Config {
  std::string source;  // the file it came from
  AdminConfig admin;
  uint32_t workers;  // resolved: never 0
  Duration drain_timeout;
  std::string log_level;
  bool access_log;
  std::string deadline_header;  // lower-case; remaining milliseconds, in and out
  LimitsConfig limits;
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  std::vector<RouteConfig> routes;

  // The index of the cluster called `name`, if any.
  std::optional<size_t> clusterIndex(std::string_view name) const;
};

using ConfigPtr = std::shared_ptr<const Config>;

}  // namespace rampart::config
