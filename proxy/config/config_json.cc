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
          {"max", formatDuration(t.max)},
          {"shadow", t.shadow}};
}

nlohmann::json retryJson(const RetryConfig& r) {
  if (!r.enabled) return nullptr;
  nlohmann::json on = nlohmann::json::array();
  if (r.on.server_error) on.push_back("5xx");
  if (r.on.gateway_error) on.push_back("gateway_error");
  if (r.on.reset) on.push_back("reset");
  if (r.on.connect_failure) on.push_back("connect_failure");
  if (r.on.timeout) on.push_back("timeout");
  for (int s : r.on.statuses) on.push_back(std::to_string(s));
  for (int g : r.on.grpc_codes) on.push_back("grpc:" + std::to_string(g));
  return {{"attempts", r.attempts},
          {"on", on},
          {"methods", r.methods},
          {"buffer_limit", r.buffer_limit},
          {"budget",
           {{"ratio", r.budget.ratio},
            {"min_per_second", r.budget.min_per_second},
            {"ttl", formatDuration(r.budget.ttl)}}},
          {"backoff",
           {{"base", formatDuration(r.backoff.base)}, {"max", formatDuration(r.backoff.max)}}}};
}

nlohmann::json hedgeJson(const HedgeConfig& h) {
  if (!h.enabled) return nullptr;
  const auto& p = h.policy;
  return {{"after", p.learned ? std::string("learned") : formatDuration(p.fixed_after)},
          {"quantile", p.quantile},
          {"min", formatDuration(p.min)},
          {"max", formatDuration(p.max)},
          {"max_extra", p.max_extra},
          {"budget_ratio", p.budget_ratio},
          {"budget_min_per_second", p.budget_min_per_second},
          {"shadow", h.shadow}};
}

nlohmann::json sheddingJson(const SheddingConfig& s) {
  if (!s.enabled) return nullptr;
  const auto& a = s.admission;
  return {{"mode", s.adaptive ? "adaptive" : "fixed"},
          {"min_limit", a.limit.min_limit},
          {"max_limit", a.limit.max_limit},
          {"initial_limit", a.limit.initial_limit},
          {"max_queue", a.max_queue},
          {"max_queue_wait", formatDuration(a.max_queue_wait)},
          {"priority_header", s.priority_header},
          {"shadow", a.shadow}};
}

nlohmann::json healthJson(const HealthCheckConfig& h) {
  if (!h.enabled) return nullptr;
  return {{"path", h.path},
          {"interval", formatDuration(h.interval)},
          {"timeout", formatDuration(h.timeout)},
          {"healthy_threshold", h.healthy_threshold},
          {"unhealthy_threshold", h.unhealthy_threshold}};
}

nlohmann::json outlierJson(const OutlierDetectionConfig& o) {
  if (!o.enabled) return nullptr;
  const auto& p = o.policy;
  return {{"consecutive_failures", p.consecutive_failures},
          {"success_rate", p.success_rate},
          {"latency", p.latency},
          {"latency_factor", p.latency_factor},
          {"min_requests", p.min_requests},
          {"interval", formatDuration(p.interval)},
          {"base_ejection", formatDuration(p.base_ejection)},
          {"max_ejection", formatDuration(p.max_ejection)},
          {"max_ejection_percent", p.max_ejection_percent},
          {"shadow", o.shadow}};
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
