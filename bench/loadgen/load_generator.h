#pragma once
// The open-loop engine: one thread, one libevent loop.
//
// Request k is due at its intended start t_k = t_{k-1} + gap_k (gap_k drawn
// from the arrival process, independent of every response). A precise timer
// (timerfd) wakes at t_k and issues every request that is due; a request goes
// out on an idle keep-alive connection, or on a newly opened one when all are
// busy — it never waits for a busy connection. Only when --max-connections
// are open does a request wait for one to come free (counted as a cap hit).
// Latency is finish − t_k, so a late send, a queued send or a slow server all
// show up in the numbers (no coordinated omission).
//
// Timeouts need no timer per request: deadlines are t_k + timeout and t_k
// only grows, so the requests in issue order are also in deadline order, and
// a periodic sweep pops expired ones from the front of that queue.

#include <event2/event.h>
#include <netinet/in.h>

#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/loadgen/connection.h"
#include "bench/loadgen/options.h"
#include "bench/loadgen/run_stats.h"

namespace rampart::loadgen {

// Frees an event_base.
struct EventBaseDeleter {
  void operator()(event_base* base) const { event_base_free(base); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;

// The bytes of one request per priority class (headers differ only in the priority header).
std::vector<std::string> buildRequests(const Options& options);

class LoadGenerator final : private ConnectionCallbacks {
 public:
  // Takes the options; nothing starts until run().
  explicit LoadGenerator(const Options& options);
  ~LoadGenerator() override;

  // Resolves the target and creates the event loop; an error message when that fails.
  std::optional<std::string> prepare();

  // Sends the whole schedule, waits for every request to finish or time out, returns the stats.
  const RunStats& run();

 private:
  // Where one request is in its life.
  enum class State {
    kWaiting,   // issued, waiting for a connection (the connection cap was hit)
    kInFlight,  // written (or being written) on a connection
    kDone,      // finished and counted
  };
  struct Request {
    int64_t intended = 0;  // ns since the run started
    size_t priority = 0;
    Connection* connection = nullptr;
    State state = State::kWaiting;
  };

  static void onScheduleTimer(evutil_socket_t, short, void* arg);
  static void onSweepTimer(evutil_socket_t, short, void* arg);

  void onResponse(Connection& connection, int status, bool keepAlive) override;
  void onFailure(Connection& connection, OutcomeKind kind) override;

  int64_t now() const;
  int64_t nextIntended() const;
  void scheduleDue();
  void issue(int64_t intended);
  void assign(uint64_t id);
  Connection* openConnection();
  void startOn(Connection& connection, uint64_t id);
  void release(Connection& connection);
  void retire(Connection& connection);
  void serveWaiting();
  void finish(uint64_t id, OutcomeKind kind, int status);
  void sweep();
  Request& request(uint64_t id) { return requests_[static_cast<size_t>(id - firstId_)]; }

  Options options_;
  std::vector<std::string> wires_;
  bool head_ = false;
  sockaddr_in address_{};
  EventBasePtr base_;
  EventPtr scheduleTimer_;
  EventPtr sweepTimer_;
  std::mt19937_64 rng_;
  std::exponential_distribution<double> gaps_;
  std::discrete_distribution<size_t> priorityDraw_;
  std::chrono::steady_clock::time_point start_;
  double nextIntendedSeconds_ = 0.0;
  int64_t end_ = 0;  // ns: no request is issued at or after this
  bool sendingDone_ = false;

  std::deque<Request> requests_;  // unfinished requests (and finished ones behind them)
  uint64_t firstId_ = 0;          // id of requests_.front()
  std::deque<uint64_t> waiting_;  // ids waiting for a connection, oldest first
  std::vector<std::unique_ptr<Connection>> connections_;  // every open connection
  std::vector<Connection*> idle_;                         // open, connected or not, no request
  std::vector<std::unique_ptr<Connection>> graveyard_;    // closed; freed outside callbacks

  uint64_t opened_ = 0, peakOpen_ = 0, capHits_ = 0, peakWaiting_ = 0;
  RunStats stats_;
};

}  // namespace rampart::loadgen
