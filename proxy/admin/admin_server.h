#pragma once
// The admin endpoints on their own (loopback) address, served by the main
// thread: /healthz, /ready, /config, /metrics, /policies.

#include <atomic>
#include <functional>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "proxy/admin/metrics_exporter.h"
#include "proxy/config/config.h"
#include "proxy/event/http_server.h"

namespace rampart::admin {

class AdminServer {
 public:
  AdminServer(event::Dispatcher& dispatcher, config::ConfigPtr config,
              std::vector<const stats::WorkerStats*> workers);
  // Binds the admin address; false with `error` on failure.
  bool start(std::string* error);
  // Where /policies gets its view (the policy controller, once workers run).
  void setPoliciesSource(std::function<nlohmann::json()> source) { policies_ = std::move(source); }
  // /ready answers 200 only while this is true.
  void setReady(bool ready) { ready_ = ready; }
  const event::SocketAddress& address() const { return server_.address(); }

 private:
  config::ConfigPtr config_;
  MetricsExporter exporter_;
  event::HttpServer server_;
  bool ready_ = false;
  std::function<nlohmann::json()> policies_;
};

}  // namespace rampart::admin
