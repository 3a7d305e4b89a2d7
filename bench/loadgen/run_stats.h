#pragma once
// Everything one run measured: totals, latency histograms (all requests and
// successful ones), per-priority figures and a timeline, written as JSON.
//
// Requests are attributed to the timeline interval of their *intended* start,
// so a slow phase shows up where the requests were issued, and a scenario can
// be judged "from second 5 on" whatever their latency. `finished_ok` is the
// exception: successes by completion time, i.e. goodput over time.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/loadgen/histogram.h"
#include "bench/loadgen/options.h"

namespace rampart::loadgen {

// How one request ended.
enum class OutcomeKind {
  kResponse,  // a complete HTTP response arrived (any status)
  kConnect,   // the connection for it could not be established
  kReset,     // the connection closed or failed before the response was complete
  kTimeout,   // no complete response within --timeout of its intended start
  kProtocol,  // the response did not parse as HTTP/1.1
};

// One finished request, as the engine reports it.
struct Outcome {
  int64_t intended = 0;  // intended start, ns since the run started
  int64_t finished = 0;  // when it ended, ns since the run started
  OutcomeKind kind = OutcomeKind::kResponse;
  int status = 0;       // HTTP status for kResponse, else 0
  size_t priority = 0;  // index into Options::priorities (0 when there are none)
};

// Counters and latencies of one group of requests (the totals, a priority class, an interval).
struct GroupStats {
  uint64_t sent = 0;
  uint64_t ok = 0;      // 2xx responses
  uint64_t non2xx = 0;  // responses with another status
  uint64_t connectErrors = 0;
  uint64_t resetErrors = 0;
  uint64_t timeouts = 0;
  uint64_t protocolErrors = 0;
  std::map<int, uint64_t> byStatus;
  LatencyHistogram all;        // every finished request (errors at the time they failed)
  LatencyHistogram okLatency;  // 2xx responses only

  // Counts one finished request whose start was already counted in sent.
  void add(const Outcome& outcome);
  // Socket-level failures: connect + reset + timeout + protocol.
  uint64_t errors() const { return connectErrors + resetErrors + timeouts + protocolErrors; }
};

class RunStats {
 public:
  // Sizes the timeline and the priority classes for these options.
  explicit RunStats(const Options& options);

  // Counts a request issued at its intended start (ns since the run started).
  void onSent(int64_t intended, size_t priority);

  // Counts one finished request.
  void onFinished(const Outcome& outcome);

  // Records how late the generator issued a request (actual write − intended), in ns.
  void onDispatched(int64_t intended, int64_t lag);

  // Records connection-pool figures at the end of the run.
  void setPool(uint64_t opened, uint64_t peakOpen, uint64_t capHits, uint64_t peakWaiting);

  // Records the wall time from the first scheduled request to the last finished one.
  void setElapsed(int64_t nanos) { elapsed_ = nanos; }

  // The whole report as pretty-printed JSON.
  std::string toJson() const;

 private:
  struct Interval {
    GroupStats stats;
    uint64_t finishedOk = 0;  // 2xx responses completed during this interval
  };

  bool measured(int64_t intended) const { return intended >= warmup_; }

  Options options_;
  int64_t warmup_;
  int64_t interval_;
  GroupStats totals_;
  std::vector<GroupStats> priorities_;
  std::vector<Interval> timeline_;
  LatencyHistogram lag_;
  uint64_t opened_ = 0, peakOpen_ = 0, capHits_ = 0, peakWaiting_ = 0;
  int64_t elapsed_ = 0;
};

}  // namespace rampart::loadgen
