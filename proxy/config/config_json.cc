#include "proxy/config/config_json.h"

#include "proxy/config/units.h"

namespace rampart::config {

namespace {
const char* lbName(LbPolicy lb) {
  switch (lb) {
    case LbPolicy::RoundRobin:
      return "round_robin";
    case LbPolicy::LeastRequest:
      return "least_request";
    case LbPolicy::P2cEwma:
      return "p2c_ewma";
  }
  return "round_robin";
}

nlohmann::json timeoutJson(const TimeoutSpec& t) {
  if (!t.learned) return formatDuration(t.fixed);
  return {{"learned", true},
          {"quantile", t.quantile},
          {"multiplier", t.multiplier},
          {"min", formatDuration(t.min)},
          {"max", formatDuration(t.max)}};
}
}  // namespace

nlohmann::json toJson(const Config& c) {
  nlohmann::json j;
  j["source"] = c.source;
  j["admin"] = {{"address", c.admin.address.toString()}};
  j["workers"] = c.workers;
  j["drain_timeout"] = formatDuration(c.drain_timeout);
  j["log_level"] = c.log_level;
  j["access_log"] = c.access_log;
  j["deadline_header"] = c.deadline_header;
  j["limits"] = {{"max_header_bytes", c.limits.max_header_bytes},
                 {"max_body_bytes", c.limits.max_body_bytes},
                 {"header_timeout", formatDuration(c.limits.header_timeout)},
                 {"idle_timeout", formatDuration(c.limits.idle_timeout)},
                 {"max_connections", c.limits.max_connections},
                 {"max_requests_per_connection", c.limits.max_requests_per_connection}};
  j["listeners"] = nlohmann::json::array();
  for (const auto& l : c.listeners) {
    j["listeners"].push_back({{"name", l.name}, {"address", l.address.toString()}});
  }
  j["clusters"] = nlohmann::json::array();
  for (const auto& cl : c.clusters) {
    nlohmann::json endpoints = nlohmann::json::array();
    for (const auto& e : cl.endpoints) endpoints.push_back(e.text);
    j["clusters"].push_back({{"name", cl.name},
                             {"protocol", cl.protocol == UpstreamProtocol::H2 ? "h2" : "http1"},
                             {"endpoints", endpoints},
                             {"lb", lbName(cl.lb)},
                             {"connect_timeout", formatDuration(cl.connect_timeout)},
                             {"max_connections_per_endpoint", cl.max_connections_per_endpoint},
                             {"max_pending_requests", cl.max_pending_requests},
                             {"idle_timeout", formatDuration(cl.upstream_idle_timeout)},
                             {"health_check", healthJson(cl.health_check)},
                             {"outlier_detection", outlierJson(cl.outlier_detection)}});
  }
  j["routes"] = nlohmann::json::array();
  for (const auto& r : c.routes) {
    nlohmann::json match = nlohmann::json::object();
    if (r.match.path_exact) match["path_exact"] = *r.match.path_exact;
    if (r.match.path_prefix) match["path_prefix"] = *r.match.path_prefix;
    if (!r.match.methods.empty()) match["methods"] = r.match.methods;
    if (r.match.host) match["host"] = *r.match.host;
    for (const auto& h : r.match.headers) match["headers"][h.name] = h.value;
    nlohmann::json clusters = nlohmann::json::array();
    for (const auto& w : r.clusters) clusters.push_back({{"name", w.name}, {"weight", w.weight}});
    j["routes"].push_back({{"name", r.name},
                           {"match", match},
                           {"clusters", clusters},
                           {"timeout", timeoutJson(r.timeout)},
                           {"retry", retryJson(r.retry)},
                           {"hedge", hedgeJson(r.hedge)},
                           {"load_shedding", sheddingJson(r.load_shedding)}});
  }
  return j;
}

}  // namespace rampart::config
