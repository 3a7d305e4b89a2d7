#pragma once
// Time for policies. Policies never read a clock: pure estimators take `now`
// as an argument, and controllers that need "now" outside a call take a
// TimeSource. Production passes the worker's cached loop time; tests pass a
// SimulatedTimeSource and advance it, so control windows run with no sleeps.

#include <chrono>
#include <cstdint>

namespace rampart::policy {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

// Reads the current monotonic time. Implementations need not be thread-safe:
// each worker owns its own.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  // The current monotonic time; never decreases.
  virtual TimePoint now() const = 0;
};

// A clock that only moves when a test says so.
class SimulatedTimeSource final : public TimeSource {
 public:
  explicit SimulatedTimeSource(TimePoint start = TimePoint{} + std::chrono::hours(1))
      : now_(start) {}
  TimePoint now() const override { return now_; }
  // Moves time forward by `d` (must be >= 0).
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_;
};

// Converts a duration to fractional seconds / milliseconds for formulas and reports.
inline double toSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline double toMillis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline Duration fromSeconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}
inline Duration fromMillis(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

}  // namespace rampart::policy
