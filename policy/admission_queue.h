#pragma once
// AdmissionQueue: per-route admission in front of an AdaptiveConcurrencyLimit,
// with three priorities, a bounded wait queue and a shadow mode.
//
// Algorithm. Let L = limit(), S = max(1, ⌊sheddable_fraction · L⌋), Q = max_queue
// (0 in the config follows L).
//  * tryAdmit(p): Critical/Normal are admitted while inflight < L, Sheddable while
//    inflight < S — but only when no waiter of priority >= p is queued, so a new
//    request never overtakes one that waited. Otherwise the request queues
//    unless: its deadline has passed or cannot be met (remaining < estimated
//    wait + no-load RTT, estimated wait = (waiters ahead + 1) · recent RTT / L)
//    → DeadlineTooShort; it is Sheddable and a Critical/Normal waiter is queued
//    → LimitSheddable; the queue holds Q waiters → it displaces the newest waiter
//    of the lowest strictly-lower priority (returned in Decision::displaced for
//    the caller to refuse), else QueueFull.
//  * Queue order: priority, then FIFO. A waiter leaves through admitNext()/
//    release() when inflight is below its priority's limit, through expire()
//    once it has waited max_queue_wait or its deadline minus the no-load RTT has
//    come (both fixed when it is queued), or through cancel().
//  * release() feeds (rtt, inflight at admission, dropped) to the limit, so the
//    limit only ever sees admitted work, then admits at most one waiter; call
//    admitNext() in a loop afterwards to use capacity a growing limit opened.
//  * Shadow mode: every request is admitted, and what the queue would have done
//    is counted in would_queue / would_reject, so an operator can watch before
//    enforcing. The limit still learns. Approximation: the requests running
//    above L stand in for the waiters that enforcement would have parked.
// A waiter that is admitted holds the permit id permitOf(waiter). Unknown or
// already-released permits and unknown waiters are ignored (and counted), so an
// RAII guard that releases on destruction is always safe.
//
// Thread sharing: none. One instance per route per worker, driven by that
// worker's event loop; the main thread may merge explain() copies.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policy/concurrency_limit.h"
#include "policy/time.h"

namespace rampart::policy {

// Request priority, from a header such as x-priority.
enum class Priority : uint8_t {
  Critical = 0,   // shed last; may displace lower-priority waiters
  Normal = 1,     // the default
  Sheddable = 2,  // shed first: below a reduced limit and behind everyone else
};
inline constexpr size_t kPriorityCount = 3;

// "critical"/"high" → Critical, "sheddable"/"low"/"batch" → Sheddable, anything
// else (including empty) → Normal; case-insensitive, surrounding blanks ignored.
Priority parsePriority(std::string_view header_value);
// A stable lower-case name for metrics labels.
const char* toString(Priority priority);

// Why a request was refused.
enum class RejectReason : uint8_t {
  QueueFull = 0,         // the wait queue is full and nothing lower can be displaced
  LimitSheddable = 1,    // sheddable request above its reduced limit
  DeadlineTooShort = 2,  // its deadline passed or cannot be met after the wait
  QueueTimeout = 3,      // waited max_queue_wait (or until its deadline) in vain
  Displaced = 4,         // pushed out of the queue by a higher-priority request
};
inline constexpr size_t kRejectReasonCount = 5;
// A stable lower-case name for metrics labels.
const char* toString(RejectReason reason);

// Identifies an admitted request until release().
struct PermitId {
  uint64_t value = 0;  // 0 is never issued
  friend bool operator==(PermitId, PermitId) = default;
};
// Identifies a queued request until it is admitted, expired, displaced or cancelled.
struct WaiterId {
  uint64_t value = 0;  // 0 is never issued
  friend bool operator==(WaiterId, WaiterId) = default;
};

// The answer to tryAdmit().
struct Decision {
  // What the caller does next.
  enum class Kind : uint8_t {
    Admit,   // forward now; release(permit) when done
    Queue,   // park the request; it is admitted, expired or displaced later
    Reject,  // answer 503 / RESOURCE_EXHAUSTED now
  };
  Kind kind = Kind::Reject;
  PermitId permit{};                  // set for Admit
  WaiterId waiter{};                  // set for Queue
  RejectReason reason{};              // set for Reject
  std::optional<WaiterId> displaced;  // a waiter pushed out: refuse it now
};

// Settings of one route's admission.
struct AdmissionConfig {
  ConcurrencyLimitConfig limit;                             // the adaptive limit
  uint32_t max_queue = 0;                                   // 0: follow the limit
  Duration max_queue_wait = std::chrono::milliseconds(50);  // longest wait
  double sheddable_fraction = 0.9;                          // sheddable limit share
  bool shadow = false;                                      // count, never refuse
};

// Per-priority counters (index = Priority value), exported as metrics.
struct AdmissionCounters {
  using PerPriority = std::array<uint64_t, kPriorityCount>;
  PerPriority admitted{};             // permits granted, directly or from the queue
  PerPriority admitted_from_queue{};  // of which after waiting
  PerPriority queued{};               // requests that had to wait
  PerPriority cancelled{};            // waiters whose client went away
  std::array<PerPriority, kRejectReasonCount> rejected{};      // by reason, priority
  PerPriority would_queue{};                                   // shadow mode: would have waited
  std::array<PerPriority, kRejectReasonCount> would_reject{};  // shadow mode
  uint64_t unknown_releases = 0;  // release() of an unknown or released permit
  // Total refusals of one priority over all reasons.
  uint64_t rejectedTotal(Priority p) const;
};

// The queue's state and its limit's evidence, for /policies.
struct AdmissionExplain {
  ConcurrencyLimitExplain limit;                            // the limit and its evidence
  uint32_t inflight = 0;                                    // permits held
  size_t queued = 0;                                        // waiters
  std::array<size_t, kPriorityCount> queued_by_priority{};  // waiters per priority
  uint32_t sheddable_limit = 0;                             // S
  size_t max_queue = 0;                                     // Q now
  bool shadow = false;                                      // shadow mode on
};

class AdmissionQueue {
 public:
  // An empty queue with a fresh limit.
  explicit AdmissionQueue(AdmissionConfig config = {});

  // Admits, queues or refuses one request (deadline: TimePoint::max() if none).
  Decision tryAdmit(Priority priority, TimePoint now, TimePoint deadline = TimePoint::max());
  // Ends a permit, feeding its RTT (from admission) and outcome to the limit,
  // and returns the next waiter to admit, if any. Unknown ids are ignored.
  std::optional<WaiterId> release(PermitId permit, TimePoint now, Duration rtt, bool dropped);
  // Ends a permit without a sample (client gone mid-request); returns a waiter to admit.
  std::optional<WaiterId> releaseWithoutSample(PermitId permit, TimePoint now);
  // Admits the next waiter if the limit allows; call until nullopt after release().
  std::optional<WaiterId> admitNext(TimePoint now);
  // Removes and returns the waiters whose wait is over; the caller refuses them.
  std::vector<WaiterId> expire(TimePoint now);
  // When expire() next has work (for the caller's timer); nullopt if no waiter.
  std::optional<TimePoint> nextExpiry() const;
  // Forgets a waiter whose client went away; unknown ids are ignored.
  void cancel(WaiterId waiter);

  // The permit an admitted waiter holds.
  static PermitId permitOf(WaiterId waiter) { return PermitId{waiter.value}; }
  // Permits held now.
  uint32_t inflight() const { return static_cast<uint32_t>(permits_.size()); }
  // Waiters now.
  size_t queued() const { return queue_.size(); }
  // The current concurrency limit L.
  uint32_t limit() const { return limit_.limit(); }
  // Cumulative counters.
  const AdmissionCounters& counters() const { return counters_; }
  // The state and evidence.
  AdmissionExplain explain() const;
  // The limit controller (read-only).
  const AdaptiveConcurrencyLimit& concurrencyLimit() const { return limit_; }

 private:
  struct Permit {
    Priority priority;
    uint32_t inflight_at_start;
  };
  struct Waiter {
    TimePoint expires;
  };
  // Queue order: priority, then id (ids grow, so FIFO).
  using QueueKey = std::pair<uint8_t, uint64_t>;

  // What tryAdmit would do, without doing it.
  struct Plan {
    Decision::Kind kind;
    RejectReason reason;
    std::optional<QueueKey> displace;
  };
  Plan plan(Priority priority, TimePoint now, TimePoint deadline) const;
  uint32_t limitFor(Priority priority) const;
  size_t maxQueue() const;
  size_t waitersAtOrAbove(Priority priority) const;
  PermitId grant(uint64_t id, Priority priority);
  std::optional<WaiterId> finish(PermitId permit, TimePoint now, const Duration* rtt, bool dropped);
  void removeWaiter(const QueueKey& key);
  void reject(Priority priority, RejectReason reason) {
    counters_.rejected[static_cast<size_t>(reason)][static_cast<size_t>(priority)]++;
  }

  AdmissionConfig config_;
  AdaptiveConcurrencyLimit limit_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Permit> permits_;
  std::map<QueueKey, Waiter> queue_;
  std::map<std::pair<TimePoint, uint64_t>, uint8_t> expiries_;  // (expiry, id) → priority
  std::array<size_t, kPriorityCount> queued_by_priority_{};
  AdmissionCounters counters_;
};

}  // namespace rampart::policy
