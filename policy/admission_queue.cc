#include "policy/admission_queue.h"

#include <algorithm>
#include <cmath>

namespace rampart::policy {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr size_t index(Priority p) {
  return static_cast<size_t>(p);
}

}  // namespace

Priority parsePriority(std::string_view header_value) {
  const std::string_view v = trim(header_value);
  if (equalsIgnoreCase(v, "critical") || equalsIgnoreCase(v, "high")) return Priority::Critical;
  if (equalsIgnoreCase(v, "sheddable") || equalsIgnoreCase(v, "low") ||
      equalsIgnoreCase(v, "batch")) {
    return Priority::Sheddable;
  }
  return Priority::Normal;
}

const char* toString(Priority priority) {
  switch (priority) {
    case Priority::Critical:
      return "critical";
    case Priority::Normal:
      return "normal";
    case Priority::Sheddable:
      return "sheddable";
  }
  return "unknown";
}

const char* toString(RejectReason reason) {
  switch (reason) {
    case RejectReason::QueueFull:
      return "queue_full";
    case RejectReason::LimitSheddable:
      return "limit_sheddable";
    case RejectReason::DeadlineTooShort:
      return "deadline_too_short";
    case RejectReason::QueueTimeout:
      return "queue_timeout";
    case RejectReason::Displaced:
      return "displaced";
  }
  return "unknown";
}

uint64_t AdmissionCounters::rejectedTotal(Priority p) const {
  uint64_t total = 0;
  for (const PerPriority& by_reason : rejected) total += by_reason[index(p)];
  return total;
}

AdmissionQueue::AdmissionQueue(AdmissionConfig config) : config_(config), limit_(config.limit) {
  config_.sheddable_fraction = std::clamp(config_.sheddable_fraction, 0.0, 1.0);
  config_.max_queue_wait = std::max(config_.max_queue_wait, Duration::zero());
}

uint32_t AdmissionQueue::limitFor(Priority priority) const {
  const uint32_t l = limit_.limit();
  if (priority != Priority::Sheddable) return l;
  const auto share = static_cast<uint32_t>(std::floor(config_.sheddable_fraction * l));
  return std::max<uint32_t>(share, 1);
}

size_t AdmissionQueue::maxQueue() const {
  return config_.max_queue > 0 ? config_.max_queue : limit_.limit();
}

size_t AdmissionQueue::waitersAtOrAbove(Priority priority) const {
  size_t n = 0;
  for (size_t p = 0; p <= index(priority); ++p) n += queued_by_priority_[p];
  return n;
}

AdmissionQueue::Plan AdmissionQueue::plan(Priority priority, TimePoint now,
                                          TimePoint deadline) const {
  if (deadline <= now) return {Decision::Kind::Reject, RejectReason::DeadlineTooShort, {}};
  // In shadow mode nothing waits: the requests above the limit that run anyway
  // stand in for the waiters (of unknown priority, so they count as ahead of all).
  const size_t virtual_waiters =
      config_.shadow ? inflight() - std::min(inflight(), limit_.limit()) : 0;
  const size_t ahead = waitersAtOrAbove(priority) + virtual_waiters;
  if (inflight() < limitFor(priority) && ahead == 0) return {Decision::Kind::Admit, {}, {}};
  if (priority == Priority::Sheddable && ahead > queued_by_priority_[index(Priority::Sheddable)]) {
    return {Decision::Kind::Reject, RejectReason::LimitSheddable, {}};
  }
  if (deadline != TimePoint::max()) {
    // Each admission frees about one slot every recent/L: the wait until our turn.
    const Duration wait = limit_.recentRtt() * static_cast<Duration::rep>(ahead + 1) /
                          static_cast<Duration::rep>(std::max<uint32_t>(limit_.limit(), 1));
    if (deadline - now < wait + limit_.noLoadRtt()) {
      return {Decision::Kind::Reject, RejectReason::DeadlineTooShort, {}};
    }
  }
  if (queue_.size() + virtual_waiters < maxQueue()) return {Decision::Kind::Queue, {}, {}};
  // Full: push out the newest waiter of the lowest priority below ours.
  for (size_t p = kPriorityCount - 1; p > index(priority); --p) {
    if (queued_by_priority_[p] == 0) continue;
    auto it = queue_.lower_bound(QueueKey{static_cast<uint8_t>(p + 1), 0});
    --it;
    return {Decision::Kind::Queue, {}, it->first};
  }
  return {Decision::Kind::Reject, RejectReason::QueueFull, {}};
}

Decision AdmissionQueue::tryAdmit(Priority priority, TimePoint now, TimePoint deadline) {
  const Plan p = plan(priority, now, deadline);
  Decision d;
  if (config_.shadow) {
    if (p.kind == Decision::Kind::Queue) counters_.would_queue[index(priority)]++;
    if (p.kind == Decision::Kind::Reject) {
      counters_.would_reject[static_cast<size_t>(p.reason)][index(priority)]++;
    }
    d.kind = Decision::Kind::Admit;
    d.permit = grant(next_id_++, priority);
    return d;
  }
  d.kind = p.kind;
  switch (p.kind) {
    case Decision::Kind::Admit:
      d.permit = grant(next_id_++, priority);
      break;
    case Decision::Kind::Reject:
      d.reason = p.reason;
      reject(priority, p.reason);
      break;
    case Decision::Kind::Queue: {
      if (p.displace) {
        removeWaiter(*p.displace);
        reject(static_cast<Priority>(p.displace->first), RejectReason::Displaced);
        d.displaced = WaiterId{p.displace->second};
      }
      const uint64_t id = next_id_++;
      TimePoint expires = now + config_.max_queue_wait;
      if (deadline != TimePoint::max()) expires = std::min(expires, deadline - limit_.noLoadRtt());
      queue_.emplace(QueueKey{static_cast<uint8_t>(priority), id}, Waiter{expires});
      expiries_.emplace(std::make_pair(expires, id), static_cast<uint8_t>(priority));
      queued_by_priority_[index(priority)]++;
      counters_.queued[index(priority)]++;
      d.waiter = WaiterId{id};
      break;
    }
  }
  return d;
}

PermitId AdmissionQueue::grant(uint64_t id, Priority priority) {
  const uint32_t before = inflight();
  permits_.emplace(id, Permit{priority, before});
  counters_.admitted[index(priority)]++;
  return PermitId{id};
}

std::optional<WaiterId> AdmissionQueue::release(PermitId permit, TimePoint now, Duration rtt,
                                                bool dropped) {
  return finish(permit, now, &rtt, dropped);
}

std::optional<WaiterId> AdmissionQueue::releaseWithoutSample(PermitId permit, TimePoint now) {
  return finish(permit, now, nullptr, false);
}

std::optional<WaiterId> AdmissionQueue::finish(PermitId permit, TimePoint now, const Duration* rtt,
                                               bool dropped) {
  auto it = permits_.find(permit.value);
  if (it == permits_.end()) {
    // Double release or a stale id from an RAII guard: harmless by contract.
    counters_.unknown_releases++;
    return std::nullopt;
  }
  const Permit p = it->second;
  permits_.erase(it);
  if (rtt != nullptr) limit_.onSample(now, *rtt, p.inflight_at_start, dropped);
  return admitNext(now);
}

std::optional<WaiterId> AdmissionQueue::admitNext(TimePoint now) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->second.expires <= now) continue;  // its wait is over; expire() refuses it
    const auto priority = static_cast<Priority>(it->first.first);
    // Later waiters have the same or a lower priority, hence no larger limit.
    if (inflight() >= limitFor(priority)) return std::nullopt;
    const QueueKey key = it->first;
    removeWaiter(key);
    grant(key.second, priority);
    counters_.admitted_from_queue[index(priority)]++;
    return WaiterId{key.second};
  }
  return std::nullopt;
}

std::vector<WaiterId> AdmissionQueue::expire(TimePoint now) {
  std::vector<WaiterId> out;
  while (!expiries_.empty() && expiries_.begin()->first.first <= now) {
    const uint64_t id = expiries_.begin()->first.second;
    const uint8_t priority = expiries_.begin()->second;
    removeWaiter(QueueKey{priority, id});
    reject(static_cast<Priority>(priority), RejectReason::QueueTimeout);
    out.push_back(WaiterId{id});
  }
  return out;
}

std::optional<TimePoint> AdmissionQueue::nextExpiry() const {
  if (expiries_.empty()) return std::nullopt;
  return expiries_.begin()->first.first;
}

void AdmissionQueue::cancel(WaiterId waiter) {
  for (uint8_t p = 0; p < kPriorityCount; ++p) {
    if (queue_.count(QueueKey{p, waiter.value}) == 0) continue;
    removeWaiter(QueueKey{p, waiter.value});
    counters_.cancelled[p]++;
    return;
  }
}

void AdmissionQueue::removeWaiter(const QueueKey& key) {
  auto it = queue_.find(key);
  if (it == queue_.end()) return;
  expiries_.erase(std::make_pair(it->second.expires, key.second));
  queued_by_priority_[key.first]--;
  queue_.erase(it);
}

AdmissionExplain AdmissionQueue::explain() const {
  AdmissionExplain e;
  e.limit = limit_.explain();
  e.inflight = inflight();
  e.queued = queue_.size();
  e.queued_by_priority = queued_by_priority_;
  e.sheddable_limit = limitFor(Priority::Sheddable);
  e.max_queue = maxQueue();
  e.shadow = config_.shadow;
  return e;
}

}  // namespace rampart::policy
