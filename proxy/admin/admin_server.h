#pragma once
// The admin endpoints on their own (loopback) address, served by the main
// thread: /healthz, /ready, /config, /metrics, /policies.

#include <atomic>
#include <memory>
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
  // /ready answers 200 only while this is true.
  void setReady(bool ready) { ready_ = ready; }
  const event::SocketAddress& address() const { return server_.address(); }

 private:
  config::ConfigPtr config_;
  MetricsExporter exporter_;
  event::HttpServer server_;
  bool ready_ = false;
};

}  // namespace rampart::admin
