#include "proxy/config/schema.h"

namespace rampart::config {

const std::vector<SchemaKey>& configSchema() {
  static const std::vector<SchemaKey> keys = {
      {"admin", "map", "{}", false,
       "The admin server: /metrics /healthz /ready /config /policies."},
      {"admin.address", "address", "127.0.0.1:9901", false,
       "Where the admin server listens; keep it on loopback."},
      {"workers", "uint", "0", false,
       "Worker threads, each with its own event loop; 0 = CPU count."},
      {"drain_timeout", "duration", "15s", false,
       "On SIGTERM: stop accepting, finish in-flight requests for at most this long, exit."},
      {"log_level", "string", "info", false,
       "debug | info | warn | error (overridden by --log-level)."},
      {"access_log", "bool", "false", false, "One JSON line per request on stderr."},
      {"limits", "map", "{}", false, "Limits on downstream clients."},
      {"limits.max_header_bytes", "size", "64KiB", false,
       "Request line plus headers; larger requests get 431."},
      {"limits.max_body_bytes", "size", "64MiB", false, "Request body; larger bodies get 413."},
      {"limits.header_timeout", "duration", "10s", false,
       "Time allowed to send a complete request head; slower clients get 408."},
      {"limits.idle_timeout", "duration", "60s", false,
       "A keep-alive connection with no request in flight is closed after this."},
      {"limits.max_connections", "uint", "10000", false,
       "Open downstream connections per listener (all workers); more are refused."},
      {"limits.max_requests_per_connection", "uint", "0", false,
       "Close a keep-alive connection after this many requests; 0 = no limit."},
      {"listeners", "list", "", true, "Where Rampart accepts traffic."},
      {"listeners[].name", "string", "", true, "Unique name, used in metrics and logs."},
      {"listeners[].address", "address", "", true,
       "host:port; HTTP/1.1 and h2c are told apart by the connection preface."},
      {"clusters", "list", "", true, "Groups of upstream endpoints."},
      {"clusters[].name", "string", "", true, "Unique name that routes refer to."},
      {"clusters[].protocol", "string", "http1", false, "http1 | h2."},
      {"clusters[].endpoints", "list", "", true, "Upstream addresses, host:port."},
      {"clusters[].lb", "string", "round_robin", false, "round_robin | least_request | p2c_ewma."},
      {"clusters[].connect_timeout", "duration", "1s", false, "Upstream TCP connect timeout."},
      {"clusters[].max_connections_per_endpoint", "uint", "1024", false,
       "Upstream connections per endpoint per worker; more requests wait."},
      {"clusters[].max_pending_requests", "uint", "1024", false,
       "Requests waiting for an upstream connection per endpoint per worker; more get 503."},
      {"clusters[].idle_timeout", "duration", "60s", false,
       "Pooled upstream connections idle this long are closed."},
      {"routes", "list", "", true, "Matched in order; the first match wins; no match is 404."},
      {"routes[].name", "string", "", true, "Unique name, used in metrics and logs."},
      {"routes[].match", "map", "{}", false, "All given conditions must hold."},
      {"routes[].match.path_exact", "string", "", false, "The path (without query) equals this."},
      {"routes[].match.path_prefix", "string", "", false, "The path starts with this."},
      {"routes[].match.methods", "list", "", false, "One of these methods; absent = any."},
      {"routes[].match.headers", "map", "", false, "Header name → exact value; all must match."},
      {"routes[].match.host", "string", "", false,
       "The Host / :authority equals this (case-insensitive, port ignored)."},
      {"routes[].cluster", "string", "", false, "The cluster to send to (or use clusters)."},
      {"routes[].clusters", "list", "", false, "Weighted split: [{name, weight}]."},
      {"routes[].clusters[].name", "string", "", true, "A cluster name."},
      {"routes[].clusters[].weight", "uint", "1", false, "Relative share of requests."},
      {"routes[].timeout", "duration|learned|map", "15s", false,
       "Whole-request upstream timeout: a duration, 'learned', or a map; expiry → 504."},
      {"routes[].timeout.quantile", "float", "0.99", false, "Learned: latency quantile used."},
      {"routes[].timeout.multiplier", "float", "3", false,
       "Learned: timeout = clamp(multiplier × quantile, min, max)."},
      {"routes[].timeout.min", "duration", "20ms", false, "Learned: lower bound."},
      {"routes[].timeout.max", "duration", "15s", false,
       "Learned: upper bound, and the value used until enough samples exist."},
  };
  return keys;
}

const SchemaKey* findSchemaKey(std::string_view path) {
  for (const SchemaKey& key : configSchema()) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

}  // namespace rampart::config
