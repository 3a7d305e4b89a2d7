#pragma once
// A worker thread: its own event loop, its own SO_REUSEPORT listening sockets,
// upstream pools and filter state. The main thread talks to it only by posting
// tasks to its dispatcher.

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/downstream/http1_downstream_connection.h"
#include "proxy/event/dispatcher.h"
#include "proxy/event/listener.h"
#include "proxy/server/policy_report.h"
#include "proxy/server/worker_context.h"
#include "proxy/stats/stats.h"

namespace rampart::server {

// Open downstream connections per listener, across all workers (for max_connections).
using ListenerConnectionCounts = std::vector<std::atomic<uint32_t>>;

class Worker final : public downstream::ConnectionOwner {
 public:
  // `listen_fds[i]` is this worker's socket for config->listeners[i]; ownership moves in.
  Worker(uint32_t index, config::ConfigPtr config, std::vector<int> listen_fds,
         stats::WorkerStats& stats, ListenerConnectionCounts& counts,
         const upstream::HealthState* health, std::vector<filters::BatchSubmitter*> batchers);
  ~Worker() override;

  // Starts the thread; `on_exit` runs on the worker thread after its loop ends.
  void start(std::function<void()> on_exit);
  // Stops accepting, closes idle connections, and ends the loop when in-flight work is done.
  void drain();
  // Ends the loop now, closing everything (after the drain timeout).
  void stop();
  void join();
  event::Dispatcher& dispatcher() { return dispatcher_; }
  // Builds a policy report on the worker thread and hands it to `deliver` (on that thread).
  void requestReport(std::function<void(std::shared_ptr<WorkerPolicyReport>)> deliver);
  // Applies learned values (one per route) on the worker thread.
  void publishLearned(std::vector<LearnedRouteValues> values);

  // ConnectionOwner (worker thread)
  void onConnectionDone(downstream::DownstreamConnection& connection) override;
  void replaceConnection(downstream::DownstreamConnection& current,
                         std::unique_ptr<downstream::DownstreamConnection> next) override;

 private:
  void run();
  void onAccept(size_t listener, int fd, const event::SocketAddress& peer);
  void exitIfDrained();

  uint32_t index_;
  config::ConfigPtr config_;
  std::vector<int> listen_fds_;
  stats::WorkerStats& stats_;
  ListenerConnectionCounts& counts_;
  const upstream::HealthState* health_;
  std::vector<filters::BatchSubmitter*> batchers_;
  event::Dispatcher dispatcher_;
  std::thread thread_;
  std::function<void()> on_exit_;

  // Worker-thread state.
  std::unique_ptr<WorkerContext> context_;
  std::vector<std::unique_ptr<event::Listener>> listeners_;
  std::unordered_map<downstream::DownstreamConnection*,
                     std::unique_ptr<downstream::DownstreamConnection>>
      connections_;
  bool draining_ = false;
};

}  // namespace rampart::server
