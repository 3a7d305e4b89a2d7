#pragma once
// One route's admission on one worker: the AdmissionQueue policy plus what it
// needs from the loop — a timer for queue expiry, a deferred hand-over to
// waiters that got a permit, the waiter → filter map, and the route's metrics.

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "policy/admission_queue.h"
#include "proxy/config/config.h"
#include "proxy/event/dispatcher.h"
#include "proxy/stats/stats.h"

namespace rampart::filters {

// The side of a waiting request the controller calls back.
class AdmissionWaiter {
 public:
  virtual ~AdmissionWaiter() = default;
  // The request got a permit after waiting; forward it now.
  virtual void onAdmitted(policy::PermitId permit) = 0;
  // The request is refused after waiting (expired, displaced).
  virtual void onRefused(policy::RejectReason reason) = 0;
};

class AdmissionController {
 public:
  AdmissionController(event::Dispatcher& dispatcher, const config::SheddingConfig& config,
                      stats::RouteStats& stats);
  // Admits, queues (then calls `waiter` back) or refuses one request.
  policy::Decision admit(AdmissionWaiter& waiter, policy::Priority priority,
                         policy::TimePoint deadline);
  // Ends a permit with its evidence: rtt since admission, and whether it was dropped.
  void release(policy::PermitId permit, policy::Duration rtt, bool dropped);
  // Ends a permit without evidence (the client left).
  void releaseWithoutSample(policy::PermitId permit);
  // Forgets a waiter whose request went away.
  void cancel(policy::WaiterId waiter);
  policy::AdmissionExplain explain() const { return queue_.explain(); }
  const policy::AdmissionCounters& counters() const { return queue_.counters(); }
  bool shadow() const { return config_.admission.shadow; }
  // Counts a refusal in the route's metrics.
  void recordRefusal(policy::Priority priority);

 private:
  void collectAdmissions(std::optional<policy::WaiterId> first);
  void handOver();
  void expire();
  void armExpiry();
  void syncGauges();

  event::Dispatcher& dispatcher_;
  const config::SheddingConfig& config_;
  stats::RouteStats& stats_;
  policy::AdmissionQueue queue_;
  std::unordered_map<uint64_t, AdmissionWaiter*> waiters_;
  std::vector<policy::WaiterId> ready_;  // admitted waiters not yet told
  event::Timer expiry_timer_;
  event::Timer handover_timer_;
  uint64_t shadow_refusals_seen_ = 0;
};

}  // namespace rampart::filters
