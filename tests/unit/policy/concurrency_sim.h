#pragma once
// Discrete-event simulation for the concurrency-limit and admission tests: an
// event loop on simulated time, a deterministic random source, and a FIFO
// backend with C parallel servers (an M/G/C queue), so controllers can be run
// for minutes of simulated traffic in milliseconds, with no sleeps.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "policy/time.h"

namespace rampart::policy::sim {

// splitmix64: tiny, deterministic, good enough for simulated jitter and arrivals.
class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : state_(seed) {}
  // Uniform in [0, 1).
  double uniform() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }
  // Exponentially distributed with the given mean.
  Duration exponential(Duration mean) {
    return fromSeconds(-std::log(1.0 - uniform()) * toSeconds(mean));
  }

 private:
  uint64_t state_;
};

// Runs callbacks in (time, insertion) order on simulated time.
class EventLoop {
 public:
  explicit EventLoop(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}
  // The simulated time of the event being run.
  TimePoint now() const { return now_; }
  // Runs `fn` at `t` (not before now).
  void at(TimePoint t, std::function<void()> fn) {
    events_.push(Event{std::max(t, now_), seq_++, std::move(fn)});
  }
  // Runs `fn` after `d`.
  void after(Duration d, std::function<void()> fn) { at(now_ + d, std::move(fn)); }
  // Runs every event due up to `end`, then sets the time to `end`.
  void runUntil(TimePoint end) {
    while (!events_.empty() && events_.top().t <= end) {
      // Moving the callback out of the top is safe: the heap orders by (t, seq) only.
      Event e = std::move(const_cast<Event&>(events_.top()));
      events_.pop();
      now_ = e.t;
      e.fn();
    }
    now_ = end;
  }
  // Runs for `d` of simulated time.
  void runFor(Duration d) { runUntil(now_ + d); }

 private:
  struct Event {
    TimePoint t;
    uint64_t seq;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.t != b.t ? a.t > b.t : a.seq > b.seq;
    }
  };
  TimePoint now_;
  uint64_t seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> events_;
};

// `servers` parallel servers with one FIFO queue; service time = service ×
// uniform(1 − jitter, 1 + jitter) × cost.
class Backend {
 public:
  Backend(uint32_t servers, Duration service, double jitter, uint64_t seed)
      : service_(service), jitter_(jitter), rng_(seed), free_at_(servers, TimePoint{}) {}
  // Changes the service time for requests submitted from now on.
  void setService(Duration service) { service_ = service; }
  // The completion time of a request submitted at `now` (calls in time order).
  TimePoint submit(TimePoint now, double cost = 1.0) {
    std::pop_heap(free_at_.begin(), free_at_.end(), std::greater<>());
    const TimePoint start = std::max(now, free_at_.back());
    const double factor = 1.0 + jitter_ * (2.0 * rng_.uniform() - 1.0);
    const auto work = std::chrono::duration_cast<Duration>(service_ * (factor * cost));
    free_at_.back() = start + work;
    std::push_heap(free_at_.begin(), free_at_.end(), std::greater<>());
    return start + work;
  }

 private:
  Duration service_;
  double jitter_;
  SimRandom rng_;
  std::vector<TimePoint> free_at_;  // min-heap of when each server is next free
};

// Mean and population standard deviation.
inline std::pair<double, double> meanStdev(const std::vector<double>& v) {
  double sum = 0;
  double sq = 0;
  for (double x : v) {
    sum += x;
    sq += x * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = sum / n;
  return {mean, std::sqrt(std::max(0.0, sq / n - mean * mean))};
}

}  // namespace rampart::policy::sim
