#include "filters/load_shedding/load_shedding_filter.h"

namespace rampart::filters {

namespace {
const char* reasonCode(policy::RejectReason reason) {
  switch (reason) {
    case policy::RejectReason::QueueFull:
      return "queue_full";
    case policy::RejectReason::LimitSheddable:
      return "sheddable_over_limit";
    case policy::RejectReason::DeadlineTooShort:
      return "deadline_too_short";
    case policy::RejectReason::QueueTimeout:
      return "queue_timeout";
    case policy::RejectReason::Displaced:
      return "displaced";
  }
  return "shed";
}
}  // namespace

LoadSheddingFilter::LoadSheddingFilter(AdmissionController& controller,
                                       const config::SheddingConfig& config,
                                       event::Dispatcher& dispatcher)
    : controller_(controller), config_(config), dispatcher_(dispatcher) {}

LoadSheddingFilter::~LoadSheddingFilter() {
  giveBack(nullptr);
}

FilterStatus LoadSheddingFilter::decodeHeaders(http::RequestHead& head, bool) {
  if (!config_.priority_header.empty()) {
    if (auto value = head.headers.get(config_.priority_header)) {
      priority_ = policy::parsePriority(*value);
    }
  }
  const policy::Decision decision = controller_.admit(*this, priority_, callbacks_->deadline());
  switch (decision.kind) {
    case policy::Decision::Kind::Admit:
      permit_ = decision.permit;
      admitted_at_ = dispatcher_.now();
      return FilterStatus::Continue;
    case policy::Decision::Kind::Queue:
      waiter_ = decision.waiter;
      callbacks_->annotate("admission", "queued");
      return FilterStatus::StopIteration;
    case policy::Decision::Kind::Reject:
      refuse(decision.reason);
      return FilterStatus::StopIteration;
  }
  return FilterStatus::Continue;
}

void LoadSheddingFilter::onAdmitted(policy::PermitId permit) {
  waiter_ = {};
  permit_ = permit;
  admitted_at_ = dispatcher_.now();
  callbacks_->continueDecoding();
}

void LoadSheddingFilter::onRefused(policy::RejectReason reason) {
  waiter_ = {};
  refuse(reason);
}

void LoadSheddingFilter::refuse(policy::RejectReason reason) {
  controller_.recordRefusal(priority_);
  callbacks_->annotate("shed_reason", reasonCode(reason));
  callbacks_->annotate("priority", policy::toString(priority_));
  callbacks_->sendLocalReply(503, "overloaded", std::string("load shedding: ") + reasonCode(reason),
                             {{"retry-after", "1"}, {"x-rampart-shed", reasonCode(reason)}});
}

void LoadSheddingFilter::onComplete(const RequestOutcome& outcome) {
  giveBack(&outcome);
}

void LoadSheddingFilter::giveBack(const RequestOutcome* outcome) {
  if (waiter_.value != 0) {
    controller_.cancel(waiter_);
    waiter_ = {};
  }
  if (permit_.value == 0) return;
  const policy::PermitId permit = permit_;
  permit_ = {};
  if (!outcome || outcome->status == 0) {
    controller_.releaseWithoutSample(permit);
    return;
  }
  // An overload sign is a timeout. A 503 usually comes from one faulty endpoint (or our
  // own shedding) and says nothing about the route's capacity.
  const bool dropped = outcome->upstream_timeout;
  // The limit learns from the backend's service time: the answering attempt's round trip,
  // not the queueing, retries and backoff around it (they would make a blip look like overload).
  if (outcome->upstream_rtt > policy::Duration::zero()) {
    controller_.release(permit, outcome->upstream_rtt, dropped);
  } else if (dropped) {
    controller_.release(permit, dispatcher_.now() - admitted_at_, true);
  } else {
    controller_.releaseWithoutSample(permit);
  }
}

}  // namespace rampart::filters
