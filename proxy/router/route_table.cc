#include "proxy/router/route_table.h"

namespace rampart::router {

RouteTable::RouteTable(config::ConfigPtr config) : config_(std::move(config)) {
  for (const auto& route : config_->routes) {
    uint64_t total = 0;
    for (const auto& c : route.clusters) total += c.weight;
    total_weight_.push_back(total);
  }
}

std::optional<size_t> RouteTable::match(const http::RequestHead& head) const {
  for (size_t i = 0; i < config_->routes.size(); ++i) {
    if (matches(config_->routes[i], head)) return i;
  }
  return std::nullopt;
}

size_t RouteTable::pickCluster(size_t route, uint64_t random) const {
  const auto& clusters = config_->routes[route].clusters;
  if (clusters.size() <= 1) return 0;
  uint64_t point = random % total_weight_[route];
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (point < clusters[i].weight) return i;
    point -= clusters[i].weight;
  }
  return clusters.size() - 1;
}

namespace {
std::string_view hostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}
}  // namespace

bool RouteTable::matches(const config::RouteConfig& route, const http::RequestHead& head) {
  const config::RouteMatch& m = route.match;
  const std::string_view path = head.pathOnly();
  if (m.path_exact && path != *m.path_exact) return false;
  if (m.path_prefix && path.substr(0, m.path_prefix->size()) != *m.path_prefix) return false;
  if (!m.methods.empty()) {
    bool any = false;
    for (const auto& method : m.methods) any = any || method == head.method;
    if (!any) return false;
  }
  for (const auto& h : m.headers) {
    auto value = head.headers.get(h.name);
    if (!value || *value != h.value) return false;
  }
  if (m.host && !http::equalsIgnoreCase(hostWithoutPort(head.authority), *m.host)) return false;
  if (m.client_identity && head.client_identity != *m.client_identity) return false;
  return true;
}

}  // namespace rampart::router
