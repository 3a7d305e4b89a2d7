#pragma once
// LearnedTimeout: a per-route (or per-endpoint) attempt timeout learned from latency.
//
// Algorithm: on each control tick the caller passes the recent latency
// evidence (normally a WindowedLatencySketch snapshot). With at least
// min_samples observations the target is
//     target = clamp(multiplier × quantile_q(evidence), min, max)
// and the timeout moves to it, except that it may grow by at most
// max_growth (×2) per update. Shrinking is immediate (a faster backend
// frees capacity at once); growth is rate-limited because slow responses
// during overload would otherwise lengthen timeouts, let more requests pile
// up, and slow responses further (the overload feedback loop). With fewer
// samples the value holds: the safe `initial` before any learning, the last
// learned value after. For attempts that time out the caller records the
// timeout itself as the sample (a censored observation), so a timeout that
// is too tight pushes the quantile up and doubles per tick until it fits.
// With `learned == false` the value is `fixed` (clamped to [min, max] only
// if it is not zero; zero means "no timeout").
//
// Thread sharing: none. The main thread runs update() on merged evidence
// and publishes current() to workers in its snapshot; or a worker owns one.

#include <cstdint>
#include <string_view>

#include "policy/latency_sketch.h"
#include "policy/time.h"

namespace rampart::policy {

struct TimeoutPolicyConfig {
  bool learned = true;                           // learn, or use `fixed`
  Duration fixed = std::chrono::seconds(15);     // the timeout when !learned
  double quantile = 0.99;                        // q of the latency evidence
  double multiplier = 3.0;                       // headroom over the quantile
  Duration min = std::chrono::milliseconds(20);  // lower bound of a learned value
  Duration max = std::chrono::seconds(10);       // upper bound of a learned value
  Duration initial = std::chrono::seconds(10);   // safe value before evidence
  uint64_t min_samples = 50;                     // evidence needed to learn
  double max_growth = 2.0;                       // largest growth factor per update
};

// Where the current timeout comes from.
enum class TimeoutSource {
  kFixed,    // configured fixed value; nothing learned
  kDefault,  // the safe initial value: not enough evidence yet
  kLearned,  // derived from observed latency
};

// Lower-case name of a source for /policies and logs: "fixed", "default", "learned".
std::string_view toString(TimeoutSource source);

// What the timeout is and why, for the /policies view.
struct TimeoutExplain {
  Duration value{};              // the timeout in force
  TimeoutSource source{};        // where it came from
  uint64_t samples = 0;          // evidence count at the last update
  Duration observed_quantile{};  // quantile_q of that evidence (0 if none)
  Duration target{};             // clamp(multiplier × quantile, min, max) before the growth limit
  bool growth_limited = false;   // true when the growth limit held the value below target
  bool holding = false;          // true when evidence was too thin and the value was kept
};

class LearnedTimeout {
 public:
  // Starts at `fixed` (not learned) or `initial` clamped to [min, max] (learned).
  explicit LearnedTimeout(const TimeoutPolicyConfig& config = {});

  // Recomputes the timeout from `evidence` as described above.
  void update(const LatencySketch& evidence);
  // The timeout to apply to the next attempt.
  Duration current() const { return explain_.value; }
  // The value, its source and the evidence behind it.
  const TimeoutExplain& explain() const { return explain_; }
  // The configuration in force.
  const TimeoutPolicyConfig& config() const { return config_; }

 private:
  Duration clampToBounds(Duration d) const;

  TimeoutPolicyConfig config_;
  TimeoutExplain explain_;
};

}  // namespace rampart::policy
