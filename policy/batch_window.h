#pragma once
// BatchWindowController: when to send a pending batch, and how big.
//
// Algorithm. Inputs: the arrival rate λ (rows/s, an EWMA with time constant τ:
// r ← r·e^(−Δt/τ) + rows/τ), the learned cost curve T(n) = a + b·n with tail
// T₉₉(n) = T(n) + z·σ (BatchCostModel), the backend's free batch slots
// (capacity C = endpoints × batches each runs at once; in flight F), and the SLO S.
//   cap     = max n ≤ max_batch_size with T₉₉(n) ≤ S/2   (a request may wait for
//             one batch ahead of it and then run in its own)
//   target  = the smallest n whose throughput keeps up with the arrivals with
//             headroom h: C·n/T(n) ≥ (1+h)·λ  ⇒  n = ⌈(1+h)λa / (C − (1+h)λb)⌉,
//             clamped to [1, cap]; cap when no n keeps up. n/T(n) rises with n, so
//             this is the throughput-maximising size exactly when the load needs
//             it, and 1 (no batching delay) when it does not.
//   window  = min((target − 1)/λ, S − T₉₉(target)): the time to gather `target`
//             rows, never past the SLO (the fixed max_delay replaces (target − 1)/λ).
// Decision for a bucket of n rows whose oldest row arrived at t₀:
//   n ≥ cap and a slot is free                → Dispatch(cap, full)
//   all C slots busy                          → wait: the batch grows while the
//                                               backend is busy; decide again on a
//                                               completion (WaitUntil(max))
//   now + T₉₉(n) ≥ min(t₀ + S, deadline)      → Dispatch(n, deadline)
//   n ≥ target                                → Dispatch(n, backend_idle)
//   now ≥ t₀ + window                         → Dispatch(n, window_expired)
//   otherwise                                 → WaitUntil(min(t₀ + window, last start
//                                               that still meets the SLO/deadline))
// At low load target = 1, so an idle backend gets every request at once.
// admissible(now, deadline, backend, rows_ahead): the request joins batch
// k = ⌊rows_ahead/cap⌋ of its bucket, which starts after the backend's queue wait
// plus ⌊k/C⌋ rounds of T(cap); if that start + T(its batch) (mean, not tail: refuse
// only what surely cannot make it) is past the deadline, the filter refuses the
// request at once instead of letting it take a batch slot and time out later.
//
// What we kept and what we fixed:
//   Triton dynamic batcher: kept the window clock at the oldest request's arrival,
//     immediate dispatch of a full batch, and forming a batch only when a model
//     instance is free (so requests arriving during execution grow the next batch).
//     Fixed: max_queue_delay_microseconds is a constant tuned offline for one load
//     (Model Analyzer sweeps under closed-loop load); here it follows λ and T(n),
//     is 0 at low load, and is bounded by the SLO and per-request deadlines.
//   Clipper: kept the SLO as the governing constraint and mean + z·σ as the tail.
//     Fixed: AIMD finds the size by overshooting the SLO and halving (sawtooth);
//     we compute the size from the fitted curve, with no probing.
//   BentoML adaptive batching: kept the online linear T(n) with a, b ≥ 0 and
//     refusing requests predicted to miss. Fixed: its OLS over the last 50 samples
//     refit at most every 5 s is slow to follow a backend change (EW statistics,
//     refit per sample); it fits the mean only (we add σ); outliers skew it
//     (winsorized); its corking rule compares against the mean observed wait, a
//     self-referential target (we derive the wait from λ); it bootstraps by forcing
//     batches of 1, 2, 3 (a prior instead); it polls on a 1 ms tick (exact times).
//
// Threads: none shared. One controller per batching key per worker; the filter
// calls it from its event loop only.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

#include "policy/batch_cost_model.h"
#include "policy/time.h"

namespace rampart::policy {

// Why a batch was sent.
enum class DispatchReason {
  Full,           // the bucket reached the batch size cap
  WindowExpired,  // the oldest row waited the whole window
  BackendIdle,    // a slot was free and the bucket reached the target size
  Deadline,       // waiting longer would miss the SLO or a request's deadline
};
inline constexpr std::size_t kDispatchReasonCount = 4;

// Configuration of one batching route.
struct BatchWindowConfig {
  Duration slo = std::chrono::milliseconds(100);  // p99 target for wait + service
  std::size_t max_batch_size = 32;                // hard cap on rows per upstream batch
  std::optional<Duration> max_delay;              // fixed window; nullopt = learned
  double tail_z = 2.33;                           // z of the service tail (2.33 ≈ p99)
  double rate_headroom = 0.1;                     // target keeps (1+h)·λ of capacity
  Duration rate_time_constant = std::chrono::milliseconds(500);  // λ's EWMA τ
  BatchCostModelConfig cost;                                     // the cost curve's knobs
};

// One pending bucket (rows that share a batching key).
struct PendingBucket {
  std::size_t rows = 0;                          // rows waiting
  TimePoint oldest_arrival{};                    // arrival of the oldest waiting row
  std::optional<TimePoint> earliest_deadline{};  // tightest caller deadline, if any
};

// The backend as the filter sees it.
struct BackendLoad {
  std::size_t in_flight = 0;  // batches sent and not yet answered
  std::size_t capacity = 1;   // batches it runs at once (endpoints × per-endpoint slots)
};

// Send `rows` rows now.
struct Dispatch {
  std::size_t rows;
  DispatchReason reason;
};

// Decide again at `at` (or earlier, on an arrival or a completion). TimePoint::max()
// means no timer is needed.
struct WaitUntil {
  TimePoint at;
};

using BatchDecision = std::variant<Dispatch, WaitUntil>;

// What the controller currently believes, for /policies.
struct BatchWindowExplain {
  Duration window;                // how long an idle backend would wait now
  std::size_t target_batch_size;  // rows that keep up with the arrival rate
  std::size_t max_batch_size;     // the SLO-bounded cap
  double arrival_rate_per_s;      // λ
  BatchCostExplain cost;          // a, b, σ, samples
  std::array<std::uint64_t, kDispatchReasonCount> dispatches;  // by DispatchReason
};

// Decides when to dispatch pending batches; see the file comment.
class BatchWindowController {
 public:
  // A controller with the cost model at its configured prior.
  explicit BatchWindowController(BatchWindowConfig config);

  // Records that `rows` rows joined a bucket at `now` (feeds λ).
  void onArrival(TimePoint now, std::size_t rows = 1);
  // Records a finished upstream batch of `rows` rows that took `latency` (feeds T(n)).
  void onBatchComplete(std::size_t rows, Duration latency);
  // Decides for one bucket; a Dispatch is counted and the caller must send it.
  BatchDecision decide(TimePoint now, const PendingBucket& bucket, const BackendLoad& backend);
  // Whether a request with this deadline can still be served in time, behind the
  // backend's load and `rows_ahead` rows already waiting in its bucket.
  bool admissible(TimePoint now, TimePoint deadline, const BackendLoad& backend = {},
                  std::size_t rows_ahead = 0) const;
  // The current window, sizes, rate, cost curve and dispatch counts.
  BatchWindowExplain explain(TimePoint now) const;
  // The learned cost curve.
  const BatchCostModel& costModel() const { return cost_; }

 private:
  double rate(TimePoint now) const;
  std::size_t cap() const;
  std::size_t target(double rate_per_s, std::size_t capacity) const;
  Duration window(double rate_per_s, std::size_t target) const;
  Duration queueWait(const BackendLoad& backend) const;
  BatchDecision record(std::size_t rows, DispatchReason reason);

  BatchWindowConfig config_;
  BatchCostModel cost_;
  double rate_ = 0;  // λ at last_arrival_, rows/s
  std::optional<TimePoint> last_arrival_;
  double typical_batch_ = 1;       // EW mean of dispatched sizes, for queue waits
  std::size_t last_capacity_ = 1;  // for explain()
  std::array<std::uint64_t, kDispatchReasonCount> dispatches_{};
};

}  // namespace rampart::policy
