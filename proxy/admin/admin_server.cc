#include "proxy/admin/admin_server.h"

#include "proxy/config/config_json.h"

namespace rampart::admin {

AdminServer::AdminServer(event::Dispatcher& dispatcher, config::ConfigPtr config,
                         std::vector<const stats::WorkerStats*> workers)
    : config_(config), exporter_(config, std::move(workers)), server_(dispatcher) {
  server_.route("/healthz", [](const event::SimpleRequest&) {
    return event::SimpleResponse{200, "text/plain; charset=utf-8", "ok\n"};
  });
  server_.route("/ready", [this](const event::SimpleRequest&) {
    return ready_ ? event::SimpleResponse{200, "text/plain; charset=utf-8", "ready\n"}
                  : event::SimpleResponse{503, "text/plain; charset=utf-8", "not ready\n"};
  });
  server_.route("/config", [this](const event::SimpleRequest&) {
    return event::SimpleResponse{200, "application/json", config::toJson(*config_).dump(2) + "\n"};
  });
  server_.route("/metrics", [this](const event::SimpleRequest&) {
    return event::SimpleResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                 exporter_.render()};
  });
  server_.route("/policies", [this](const event::SimpleRequest&) {
    const nlohmann::json view =
        policies_ ? policies_() : nlohmann::json{{"routes", nlohmann::json::array()}};
    return event::SimpleResponse{200, "application/json", view.dump(2) + "\n"};
  });
}

bool AdminServer::start(std::string* error) {
  return server_.listen(config_->admin.address, error);
}

}  // namespace rampart::admin
