#pragma once
// The process: opens listeners, starts the workers and the admin server, and
// runs the main thread's loop (signals, drain). One Server per process.

#include <memory>
#include <vector>

#include "proxy/admin/admin_server.h"
#include "proxy/batching/batch_engine.h"
#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/event/signal.h"
#include "proxy/server/policy_controller.h"
#include "proxy/server/worker.h"
#include "proxy/upstream/health_checker.h"

namespace rampart::server {

class Server {
 public:
  explicit Server(config::ConfigPtr config);
  ~Server();
  // Runs until SIGTERM/SIGINT and the drain finish; returns the exit code.
  int run();

 private:
  bool openListeners(std::vector<std::vector<int>>* per_worker_fds);
  void beginDrain();
  void onWorkerExited();

  config::ConfigPtr config_;
  event::Dispatcher dispatcher_;
  std::vector<std::unique_ptr<stats::WorkerStats>> stats_;
  std::unique_ptr<ListenerConnectionCounts> connection_counts_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<upstream::HealthState> health_;
  std::unique_ptr<upstream::HealthChecker> health_checker_;
  std::unique_ptr<batching_engine::BatchEngine> batch_engine_;
  std::unique_ptr<PolicyController> policy_controller_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<std::unique_ptr<event::SignalEvent>> signals_;
  std::unique_ptr<event::Timer> drain_timer_;
  size_t workers_running_ = 0;
  bool draining_ = false;
};

}  // namespace rampart::server
