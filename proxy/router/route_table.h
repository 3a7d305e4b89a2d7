#pragma once
// Matches a request head to the first route whose conditions all hold.
// Built once per config generation; read-only afterwards, shared by workers.

#include <cstdint>
#include <optional>

#include "proxy/config/config.h"
#include "proxy/http/message.h"

namespace rampart::router {

class RouteTable {
 public:
  explicit RouteTable(config::ConfigPtr config);
  // The index of the first matching route, or nullopt (→ 404).
  std::optional<size_t> match(const http::RequestHead& head) const;
  // Picks one of a route's clusters by weight; `random` is any uniform 64-bit value.
  // Returns the index into route.clusters.
  size_t pickCluster(size_t route, uint64_t random) const;
  const config::RouteConfig& route(size_t index) const { return config_->routes[index]; }
  size_t size() const { return config_->routes.size(); }

 private:
  static bool matches(const config::RouteConfig& route, const http::RequestHead& head);
  config::ConfigPtr config_;
  std::vector<uint64_t> total_weight_;
};

}  // namespace rampart::router
