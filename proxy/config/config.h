#pragma once
// The immutable, validated configuration. Loaded once per (re)load by
// config_loader.h and shared read-only by every thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/time.h"
#include "proxy/event/address.h"

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

struct ListenerConfig {
  std::string name;
  event::SocketAddress address;
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

struct ClusterConfig {
  std::string name;
  UpstreamProtocol protocol;
  std::vector<EndpointConfig> endpoints;
  LbPolicy lb;
  Duration connect_timeout;
  uint32_t max_connections_per_endpoint;  // per worker
  uint32_t max_pending_requests;          // waiting for a connection, per worker
  Duration upstream_idle_timeout;         // idle pooled connections are closed after this
};

struct HeaderMatch {
  std::string name;   // lower-case
  std::string value;  // exact value
};

struct RouteMatch {
  std::optional<std::string> path_exact;
  std::optional<std::string> path_prefix;
  std::vector<std::string> methods;  // empty = any
  std::vector<HeaderMatch> headers;  // all must match
  std::optional<std::string> host;   // exact, case-insensitive, port ignored
};

struct WeightedCluster {
  std::string name;
  uint32_t weight;
  size_t cluster_index;  // into Config::clusters
};

struct TimeoutSpec {
  bool learned;       // derive from the route's latency sketch
  Duration fixed;     // the timeout when not learned
  double quantile;    // learned: which quantile of latency
  double multiplier;  // learned: timeout = clamp(multiplier × quantile, min, max)
  Duration min;
  Duration max;
};

struct RouteConfig {
  std::string name;
  RouteMatch match;
  std::vector<WeightedCluster> clusters;  // one, or weighted
  TimeoutSpec timeout;
};

struct Config {
  std::string source;  // the file it came from
  AdminConfig admin;
  uint32_t workers;  // resolved: never 0
  Duration drain_timeout;
  std::string log_level;
  bool access_log;
  LimitsConfig limits;
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  std::vector<RouteConfig> routes;

  // The index of the cluster called `name`, if any.
  std::optional<size_t> clusterIndex(std::string_view name) const;
};

using ConfigPtr = std::shared_ptr<const Config>;

}  // namespace rampart::config
