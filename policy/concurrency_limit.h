#pragma once
// AdaptiveConcurrencyLimit: a gradient concurrency limit that learns the
// backend's no-load RTT from live traffic, with no probe phase that sheds.
//
// Algorithm. Samples (rtt, inflight at the request's start, dropped) collect in
// a window that closes at the first sample after `sample_window` once it holds
// `min_window_samples`. At each close, with q = rtt_quantile:
//   recent   = q-quantile of the window's non-dropped RTTs
//   no_load  : every RTT is an upper bound of the no-load RTT (queueing only adds),
//              so no_load = min(no_load, recent) at once. It RISES only on
//              evidence, towards it by 1 − exp(−Δt / no_load_rise_time):
//              (a) low-load samples, those that started with inflight <=
//                  max(1, low_load_fraction · limit), once there are
//                  `min_low_load_samples`: their q-quantile;
//              (b) the controller's own moves: of two of the last 16 windows whose
//                  peak inflight differ by >= concurrency_spread (s), if the RTT
//                  changed by a factor within [1/√s, √s) — queueing would scale it
//                  by s — the RTT does not depend on our concurrency there, so the
//                  smaller of the two RTTs is no-load.
//              Samples from a loaded backend at a steady limit are neither, so
//              they never raise it (no creep, envoy PR #11579); a backend that is
//              genuinely slower makes the limit fall, which yields (b), which
//              raises it and lets the limit regrow: no pinned-limit probe and none
//              of its 503s (envoy #8337). Limitation: without such evidence the
//              estimate cannot tell "slower" from "queued", so it stays where it
//              was, the conservative side (a lower limit).
//   gradient = clamp(tolerance · no_load / recent, min_gradient, max_gradient)
//              (tolerance absorbs ordinary variance, envoy PR #9038); recent and
//              no_load use the same quantile so a mix of cheap and costly requests
//              cancels out instead of looking like queueing.
//   target   = limit · gradient + √limit             (headroom)
//   limit    = (1 − smoothing) · limit + smoothing · target, within [min_limit, max_limit]
// The limit does not grow while app-limited (peak inflight in the window below
// app_limited_fraction · limit), so light traffic cannot inflate it. A window
// whose dropped share is >= drop_threshold multiplies the limit by drop_backoff
// instead. min_limit >= 1 is a hard floor, so admission can never lock up on
// costly requests (OmniRoute #10111, brpc #2013).
//
// Steady state on a saturated backend of parallelism C (rtt ∝ inflight / C above
// C): limit ≈ tolerance · C + √limit, reached monotonically (the update is a
// contraction), so it does not oscillate.
//
// Thread sharing: none. One instance per route per worker; each worker limits
// its own share. The main thread may merge explain() copies for the admin view.

#include <array>
#include <cstdint>
#include <optional>

#include "policy/latency_sketch.h"
#include "policy/time.h"

namespace rampart::policy {

// Settings of one route's adaptive limit. Set min_limit == max_limit for a static limit.
struct ConcurrencyLimitConfig {
  uint32_t min_limit = 4;                                   // hard floor (>= 1)
  uint32_t max_limit = 1024;                                // hard ceiling
  uint32_t initial_limit = 32;                              // before any evidence
  double smoothing = 0.2;                                   // weight of a new target
  double tolerance = 1.5;                                   // rtt may be this × no-load
  Duration sample_window = std::chrono::milliseconds(250);  // shortest window
  uint32_t min_window_samples = 10;                         // a window needs this many
  double rtt_quantile = 0.5;                                // for recent and no-load
  double min_gradient = 0.5;                                // most a window may shrink
  double max_gradient = 1.25;                               // most a window may grow
  double low_load_fraction = 0.25;                          // "low load" share of limit
  uint32_t min_low_load_samples = 5;                        // evidence to raise no-load
  Duration no_load_rise_time = std::chrono::seconds(10);    // time constant of a rise
  double concurrency_spread = 1.5;     // peak-inflight ratio of windows compared for evidence
  double app_limited_fraction = 0.75;  // growth needs peak inflight >= this × limit
  double drop_threshold = 0.05;        // dropped share that backs off
  double drop_backoff = 0.9;           // multiplier on such a window
};

// The limit and the evidence behind it, for /policies and metrics.
struct ConcurrencyLimitExplain {
  uint32_t limit = 0;                 // current limit
  double limit_exact = 0;             // the unrounded state
  Duration no_load_rtt{};             // estimate (0 before any window)
  Duration recent_rtt{};              // last window's quantile
  double gradient = 1.0;              // last window's clamped gradient
  uint64_t samples = 0;               // samples seen in total
  uint64_t dropped = 0;               // dropped samples in total
  uint64_t windows = 0;               // windows closed
  uint32_t window_peak_inflight = 0;  // last window's peak inflight
  bool app_limited = false;           // last window did not use the limit
  bool backed_off = false;            // last window backed off on drops
};

class AdaptiveConcurrencyLimit {
 public:
  // A limit at clamp(initial_limit, min_limit, max_limit) with no evidence.
  explicit AdaptiveConcurrencyLimit(ConcurrencyLimitConfig config = {});

  // Feeds one finished request: `rtt` measured from admission (not queue wait),
  // `inflight_at_start` = requests in flight when it was admitted (excluding
  // itself), `dropped` = timeout/overload failure. May close a window.
  void onSample(TimePoint now, Duration rtt, uint32_t inflight_at_start, bool dropped);
  // The current limit, within [min_limit, max_limit].
  uint32_t limit() const { return limit_rounded_; }
  // The current no-load RTT estimate; 0 before the first window.
  Duration noLoadRtt() const { return no_load_; }
  // The last window's RTT quantile; 0 before the first window.
  Duration recentRtt() const { return recent_; }
  // The limit and its evidence.
  ConcurrencyLimitExplain explain() const;
  // The (sanitised) configuration in use.
  const ConcurrencyLimitConfig& config() const { return config_; }

 private:
  void closeWindow(TimePoint now);
  void updateNoLoad(TimePoint now, Duration recent, std::optional<Duration> flat_evidence);
  std::optional<Duration> flatEvidence(uint32_t peak, Duration recent) const;
  void setLimit(double limit);
  uint32_t lowLoadInflight() const;

  ConcurrencyLimitConfig config_;
  double limit_ = 0;
  uint32_t limit_rounded_ = 0;
  Duration no_load_{};
  Duration recent_{};
  double gradient_ = 1.0;
  // Current window.
  bool window_open_ = false;
  TimePoint window_start_{};
  LatencySketch window_rtts_;
  uint64_t window_samples_ = 0;
  uint64_t window_dropped_ = 0;
  uint32_t window_peak_inflight_ = 0;
  // Low-load evidence, kept across windows until there is enough.
  LatencySketch low_load_rtts_;
  TimePoint low_load_since_{};
  // Recent windows (peak inflight, RTT quantile), a ring, for flat-RTT evidence.
  struct WindowRecord {
    uint32_t peak = 0;
    Duration rtt{};
  };
  static constexpr size_t kHistory = 16;
  std::array<WindowRecord, kHistory> history_{};
  size_t history_size_ = 0;
  size_t history_next_ = 0;
  // Totals and last-window flags for explain().
  uint64_t samples_ = 0;
  uint64_t dropped_ = 0;
  uint64_t windows_ = 0;
  uint32_t last_peak_inflight_ = 0;
  bool app_limited_ = false;
  bool backed_off_ = false;
};

}  // namespace rampart::policy
