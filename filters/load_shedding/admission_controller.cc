#include "filters/load_shedding/admission_controller.h"

namespace rampart::filters {

AdmissionController::AdmissionController(event::Dispatcher& dispatcher,
                                         const config::SheddingConfig& config,
                                         stats::RouteStats& stats)
    : dispatcher_(dispatcher),
      config_(config),
      stats_(stats),
      queue_(config.admission),
      expiry_timer_(dispatcher, [this] { expire(); }),
      handover_timer_(dispatcher, [this] { handOver(); }) {
  syncGauges();
}

policy::Decision AdmissionController::admit(AdmissionWaiter& waiter, policy::Priority priority,
                                            policy::TimePoint deadline) {
  const auto now = dispatcher_.now();
  policy::Decision decision = queue_.tryAdmit(priority, now, deadline);
  if (decision.kind == policy::Decision::Kind::Queue) {
    waiters_[decision.waiter.value] = &waiter;
    stats_.admission_queued_total.inc();
    armExpiry();
  }
  if (decision.displaced) {
    auto it = waiters_.find(decision.displaced->value);
    if (it != waiters_.end()) {
      AdmissionWaiter* displaced = it->second;
      waiters_.erase(it);
      displaced->onRefused(policy::RejectReason::Displaced);
    }
  }
  syncGauges();
  return decision;
}

void AdmissionController::release(policy::PermitId permit, policy::Duration rtt, bool dropped) {
  collectAdmissions(queue_.release(permit, dispatcher_.now(), rtt, dropped));
}

void AdmissionController::releaseWithoutSample(policy::PermitId permit) {
  collectAdmissions(queue_.releaseWithoutSample(permit, dispatcher_.now()));
}

void AdmissionController::cancel(policy::WaiterId waiter) {
  queue_.cancel(waiter);
  waiters_.erase(waiter.value);
  syncGauges();
}

void AdmissionController::collectAdmissions(std::optional<policy::WaiterId> first) {
  const auto now = dispatcher_.now();
  for (auto next = first; next; next = queue_.admitNext(now)) ready_.push_back(*next);
  // Tell waiters from the loop, not from inside another request's completion.
  if (!ready_.empty() && !handover_timer_.enabled())
    handover_timer_.enable(policy::Duration::zero());
  syncGauges();
}

void AdmissionController::handOver() {
  std::vector<policy::WaiterId> ready;
  ready.swap(ready_);
  for (policy::WaiterId w : ready) {
    auto it = waiters_.find(w.value);
    if (it == waiters_.end()) {
      // Its request went away meanwhile: give the permit back.
      collectAdmissions(
          queue_.releaseWithoutSample(policy::AdmissionQueue::permitOf(w), dispatcher_.now()));
      continue;
    }
    AdmissionWaiter* waiter = it->second;
    waiters_.erase(it);
    waiter->onAdmitted(policy::AdmissionQueue::permitOf(w));
  }
  armExpiry();
  syncGauges();
}

void AdmissionController::expire() {
  for (policy::WaiterId w : queue_.expire(dispatcher_.now())) {
    auto it = waiters_.find(w.value);
    if (it == waiters_.end()) continue;
    AdmissionWaiter* waiter = it->second;
    waiters_.erase(it);
    waiter->onRefused(policy::RejectReason::QueueTimeout);
  }
  armExpiry();
  syncGauges();
}

void AdmissionController::armExpiry() {
  if (auto next = queue_.nextExpiry()) {
    expiry_timer_.enable(std::max(*next - dispatcher_.now(), policy::Duration::zero()));
  } else {
    expiry_timer_.disable();
  }
}

void AdmissionController::recordRefusal(policy::Priority priority) {
  stats_.shed_total.inc();
  if (priority == policy::Priority::Critical) stats_.shed_critical_total.inc();
  if (priority == policy::Priority::Sheddable) stats_.shed_sheddable_total.inc();
}

void AdmissionController::syncGauges() {
  uint64_t would = 0;
  for (const auto& per_reason : queue_.counters().would_reject) {
    for (uint64_t n : per_reason) would += n;
  }
  if (would > shadow_refusals_seen_) stats_.shed_shadow_total.inc(would - shadow_refusals_seen_);
  shadow_refusals_seen_ = would;
  stats_.concurrency_limit.set(queue_.limit());
  stats_.admission_inflight.set(queue_.inflight());
  stats_.admission_queue_length.set(static_cast<int64_t>(queue_.queued()));
}

}  // namespace rampart::filters
