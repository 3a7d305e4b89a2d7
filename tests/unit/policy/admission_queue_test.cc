#include "policy/admission_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "tests/unit/policy/concurrency_sim.h"

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = Decision::Kind;

const TimePoint kStart = TimePoint{} + std::chrono::hours(1);

// A queue with a fixed limit (min == max), so tests control capacity exactly.
AdmissionConfig fixedLimit(uint32_t limit, uint32_t max_queue = 0) {
  AdmissionConfig c;
  c.limit.min_limit = limit;
  c.limit.max_limit = limit;
  c.limit.initial_limit = limit;
  c.max_queue = max_queue;
  return c;
}

size_t idx(Priority p) {
  return static_cast<size_t>(p);
}
size_t idx(RejectReason r) {
  return static_cast<size_t>(r);
}

TEST(ParsePriority, MapsHeaderValues) {
  EXPECT_EQ(parsePriority("critical"), Priority::Critical);
  EXPECT_EQ(parsePriority("HIGH"), Priority::Critical);
  EXPECT_EQ(parsePriority("  High\t"), Priority::Critical);
  EXPECT_EQ(parsePriority("sheddable"), Priority::Sheddable);
  EXPECT_EQ(parsePriority("Low"), Priority::Sheddable);
  EXPECT_EQ(parsePriority("batch"), Priority::Sheddable);
  EXPECT_EQ(parsePriority(""), Priority::Normal);
  EXPECT_EQ(parsePriority("normal"), Priority::Normal);
  EXPECT_EQ(parsePriority("criticalish"), Priority::Normal);
  EXPECT_EQ(parsePriority("h igh"), Priority::Normal);
  EXPECT_STREQ(toString(Priority::Sheddable), "sheddable");
  EXPECT_STREQ(toString(RejectReason::DeadlineTooShort), "deadline_too_short");
}

TEST(AdmissionQueue, AdmitsUpToLimitThenQueuesThenRefusesWhenFull) {
  AdmissionQueue q(fixedLimit(4, 2));
  for (int i = 0; i < 4; ++i) {
    const Decision d = q.tryAdmit(Priority::Normal, kStart);
    ASSERT_EQ(d.kind, Kind::Admit);
    EXPECT_NE(d.permit.value, 0u);
  }
  EXPECT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Queue);
  EXPECT_EQ(q.tryAdmit(Priority::Critical, kStart).kind, Kind::Queue);
  const Decision full = q.tryAdmit(Priority::Normal, kStart);
  EXPECT_EQ(full.kind, Kind::Reject);
  EXPECT_EQ(full.reason, RejectReason::QueueFull);
  EXPECT_EQ(q.inflight(), 4u);
  EXPECT_EQ(q.queued(), 2u);
  EXPECT_EQ(q.counters().admitted[idx(Priority::Normal)], 4u);
  EXPECT_EQ(q.counters().queued[idx(Priority::Critical)], 1u);
  EXPECT_EQ(q.counters().rejected[idx(RejectReason::QueueFull)][idx(Priority::Normal)], 1u);
}

TEST(AdmissionQueue, DefaultQueueBoundFollowsTheLimit) {
  AdmissionQueue q(fixedLimit(3));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Admit);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Queue);
  EXPECT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Reject);
  EXPECT_EQ(q.explain().max_queue, 3u);
}

TEST(AdmissionQueue, SheddableIsRefusedFirst) {
  AdmissionQueue q(fixedLimit(10));
  // Sheddable traffic only gets 90% of the limit ...
  for (int i = 0; i < 9; ++i) ASSERT_EQ(q.tryAdmit(Priority::Sheddable, kStart).kind, Kind::Admit);
  const Decision s1 = q.tryAdmit(Priority::Sheddable, kStart);
  EXPECT_EQ(s1.kind, Kind::Queue);  // may wait while only sheddables wait
  // ... the rest is kept for normal and critical traffic, which passes the sheddable waiter.
  EXPECT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Admit);
  EXPECT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Queue);
  // Once a normal request waits, sheddable ones are not even queued.
  const Decision s2 = q.tryAdmit(Priority::Sheddable, kStart);
  EXPECT_EQ(s2.kind, Kind::Reject);
  EXPECT_EQ(s2.reason, RejectReason::LimitSheddable);
  EXPECT_EQ(q.explain().sheddable_limit, 9u);
}

TEST(AdmissionQueue, HigherPriorityDisplacesNewestLowerWaiterWhenFull) {
  AdmissionQueue q(fixedLimit(2, 2));
  ASSERT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Admit);
  ASSERT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Admit);
  const WaiterId s_old = q.tryAdmit(Priority::Sheddable, kStart).waiter;
  const WaiterId s_new = q.tryAdmit(Priority::Sheddable, kStart).waiter;
  const Decision c1 = q.tryAdmit(Priority::Critical, kStart);
  ASSERT_EQ(c1.kind, Kind::Queue);
  ASSERT_TRUE(c1.displaced.has_value());
  EXPECT_EQ(*c1.displaced, s_new);
  const Decision n1 = q.tryAdmit(Priority::Normal, kStart);
  ASSERT_EQ(n1.kind, Kind::Queue);
  EXPECT_EQ(*n1.displaced, s_old);
  // Nothing lower left: a normal request cannot push out a normal or critical one.
  const Decision n2 = q.tryAdmit(Priority::Normal, kStart);
  EXPECT_EQ(n2.kind, Kind::Reject);
  EXPECT_EQ(n2.reason, RejectReason::QueueFull);
  // A critical one can push out the normal waiter.
  const Decision c2 = q.tryAdmit(Priority::Critical, kStart);
  ASSERT_EQ(c2.kind, Kind::Queue);
  EXPECT_EQ(*c2.displaced, n1.waiter);
  EXPECT_EQ(q.queued(), 2u);
  EXPECT_EQ(q.counters().rejected[idx(RejectReason::Displaced)][idx(Priority::Sheddable)], 2u);
  EXPECT_EQ(q.counters().rejected[idx(RejectReason::Displaced)][idx(Priority::Normal)], 1u);
}

TEST(AdmissionQueue, ReleaseAdmitsHighestPriorityFirstThenFifo) {
  AdmissionQueue q(fixedLimit(1, 10));
  PermitId running = q.tryAdmit(Priority::Normal, kStart).permit;
  const WaiterId s1 = q.tryAdmit(Priority::Sheddable, kStart).waiter;
  const WaiterId n1 = q.tryAdmit(Priority::Normal, kStart).waiter;
  const WaiterId c1 = q.tryAdmit(Priority::Critical, kStart).waiter;
  const WaiterId n2 = q.tryAdmit(Priority::Normal, kStart).waiter;
  const WaiterId c2 = q.tryAdmit(Priority::Critical, kStart).waiter;
  ASSERT_EQ(q.queued(), 5u);
  std::vector<WaiterId> order;
  TimePoint now = kStart;
  while (true) {
    now += milliseconds(1);
    const auto next = q.release(running, now, milliseconds(1), false);
    if (!next) break;
    order.push_back(*next);
    running = AdmissionQueue::permitOf(*next);
    EXPECT_EQ(q.inflight(), 1u);
  }
  EXPECT_EQ(order, (std::vector<WaiterId>{c1, c2, n1, n2, s1}));
  EXPECT_EQ(q.inflight(), 0u);
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_EQ(q.counters().admitted_from_queue[idx(Priority::Critical)], 2u);
}

TEST(AdmissionQueue, NewArrivalsDoNotOvertakeWaitersOfTheirPriority) {
  AdmissionQueue q(fixedLimit(1, 10));
  const PermitId p = q.tryAdmit(Priority::Normal, kStart).permit;
  const WaiterId w = q.tryAdmit(Priority::Normal, kStart).waiter;
  // Capacity frees up, but the caller has not yet called admitNext(): a newcomer waits too.
  q.releaseWithoutSample(p, kStart);  // returns w, which the caller now runs
  EXPECT_EQ(q.inflight(), 1u);
  EXPECT_EQ(q.tryAdmit(Priority::Normal, kStart).kind, Kind::Queue);
  (void)w;
}

TEST(AdmissionQueue, WaitersExpireAfterMaxQueueWait) {
  AdmissionQueue q(fixedLimit(1));
  const PermitId p = q.tryAdmit(Priority::Normal, kStart).permit;
  const WaiterId w = q.tryAdmit(Priority::Normal, kStart).waiter;
  ASSERT_EQ(q.nextExpiry(), kStart + milliseconds(50));
  EXPECT_TRUE(q.expire(kStart + milliseconds(49)).empty());
  EXPECT_EQ(q.expire(kStart + milliseconds(50)), std::vector<WaiterId>{w});
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_FALSE(q.nextExpiry().has_value());
  EXPECT_EQ(q.counters().rejected[idx(RejectReason::QueueTimeout)][idx(Priority::Normal)], 1u);
  // The expired waiter is gone: releasing the permit admits nobody.
  EXPECT_FALSE(q.release(p, kStart + milliseconds(60), milliseconds(60), false).has_value());
}

TEST(AdmissionQueue, ExpiredWaiterIsNotAdmittedEvenIfCapacityFreesFirst) {
  AdmissionQueue q(fixedLimit(1));
  const PermitId p = q.tryAdmit(Priority::Normal, kStart).permit;
  const WaiterId w = q.tryAdmit(Priority::Normal, kStart).waiter;
  // The slot frees after the waiter's time is up but before the caller's timer ran.
  EXPECT_FALSE(q.release(p, kStart + milliseconds(70), milliseconds(70), false).has_value());
  EXPECT_EQ(q.expire(kStart + milliseconds(70)), std::vector<WaiterId>{w});
}

// Feeds `n` 10 ms requests through a fixed-limit queue so it learns RTTs.
void teachRtt(AdmissionQueue& q, TimePoint& now, int n) {
  for (int i = 0; i < n; ++i) {
    const PermitId p = q.tryAdmit(Priority::Normal, now).permit;
    now += milliseconds(10);
    q.release(p, now, milliseconds(10), false);
  }
}

TEST(AdmissionQueue, DeadlinesBoundTheWaitAndRefuseHopelessRequests) {
  AdmissionQueue q(fixedLimit(2));
  TimePoint now = kStart;
  teachRtt(q, now, 40);
  ASSERT_NEAR(toMillis(q.concurrencyLimit().noLoadRtt()), 10.0, 0.2);
  // A deadline already passed is refused even with capacity free.
  EXPECT_EQ(q.tryAdmit(Priority::Normal, now, now).reason, RejectReason::DeadlineTooShort);
  // With capacity free, a tight deadline is the caller's business: admitted.
  const PermitId a = q.tryAdmit(Priority::Normal, now, now + milliseconds(3)).permit;
  const PermitId b = q.tryAdmit(Priority::Normal, now).permit;
  ASSERT_NE(a.value, 0u);
  ASSERT_NE(b.value, 0u);
  // Full: the wait (≈ 10 ms / 2) plus the 10 ms service cannot fit into 12 ms.
  const Decision hopeless = q.tryAdmit(Priority::Normal, now, now + milliseconds(12));
  EXPECT_EQ(hopeless.kind, Kind::Reject);
  EXPECT_EQ(hopeless.reason, RejectReason::DeadlineTooShort);
  // 30 ms fits; it waits at most until its deadline minus the no-load RTT.
  const Decision ok = q.tryAdmit(Priority::Normal, now, now + milliseconds(30));
  ASSERT_EQ(ok.kind, Kind::Queue);
  ASSERT_TRUE(q.nextExpiry().has_value());
  EXPECT_NEAR(toMillis(*q.nextExpiry() - now), 20.0, 0.5);
  EXPECT_EQ(q.counters().rejected[idx(RejectReason::DeadlineTooShort)][idx(Priority::Normal)], 2u);
}

TEST(AdmissionQueue, CancelledWaitersAreForgotten) {
  AdmissionQueue q(fixedLimit(1, 4));
  const PermitId p = q.tryAdmit(Priority::Normal, kStart).permit;
  const WaiterId w1 = q.tryAdmit(Priority::Critical, kStart).waiter;
  const WaiterId w2 = q.tryAdmit(Priority::Normal, kStart).waiter;
  q.cancel(w1);
  q.cancel(w1);                // twice: harmless
  q.cancel(WaiterId{999999});  // unknown: harmless
  EXPECT_EQ(q.queued(), 1u);
  EXPECT_EQ(q.counters().cancelled[idx(Priority::Critical)], 1u);
  EXPECT_EQ(q.release(p, kStart + milliseconds(1), milliseconds(1), false), w2);
}

TEST(AdmissionQueue, UnknownAndRepeatedReleasesAreHarmless) {
  AdmissionQueue q(fixedLimit(2));
  const PermitId p = q.tryAdmit(Priority::Normal, kStart).permit;
  EXPECT_EQ(q.inflight(), 1u);
  q.release(p, kStart, milliseconds(1), false);
  q.release(p, kStart, milliseconds(1), false);
  q.releaseWithoutSample(p, kStart);
  q.release(PermitId{424242}, kStart, milliseconds(1), false);
  EXPECT_EQ(q.inflight(), 0u);
  EXPECT_EQ(q.counters().unknown_releases, 3u);
  EXPECT_EQ(q.concurrencyLimit().explain().samples, 1u);  // only the real release counted
}

TEST(AdmissionQueue, ReleaseWithoutSampleDoesNotTeachTheLimit) {
  AdmissionQueue q(fixedLimit(4));
  for (int i = 0; i < 20; ++i) {
    q.releaseWithoutSample(q.tryAdmit(Priority::Normal, kStart).permit, kStart);
  }
  EXPECT_EQ(q.concurrencyLimit().explain().samples, 0u);
  EXPECT_EQ(q.inflight(), 0u);
}

TEST(AdmissionQueue, ShadowModeAdmitsEverythingButCountsWhatItWouldDo) {
  AdmissionConfig c = fixedLimit(2, 1);
  c.shadow = true;
  AdmissionQueue q(c);
  std::vector<Decision> ds;
  for (int i = 0; i < 5; ++i) ds.push_back(q.tryAdmit(Priority::Normal, kStart));
  ds.push_back(q.tryAdmit(Priority::Sheddable, kStart));
  for (const Decision& d : ds) EXPECT_EQ(d.kind, Kind::Admit);
  EXPECT_EQ(q.inflight(), 6u);
  EXPECT_EQ(q.queued(), 0u);
  const AdmissionCounters& k = q.counters();
  EXPECT_EQ(k.admitted[idx(Priority::Normal)], 5u);
  EXPECT_EQ(k.would_queue[idx(Priority::Normal)], 1u);
  EXPECT_EQ(k.would_reject[idx(RejectReason::QueueFull)][idx(Priority::Normal)], 2u);
  EXPECT_EQ(k.would_reject[idx(RejectReason::LimitSheddable)][idx(Priority::Sheddable)], 1u);
  EXPECT_EQ(k.rejectedTotal(Priority::Normal), 0u);
  EXPECT_TRUE(q.explain().shadow);
}

// Route traffic through an AdmissionQueue to a simulated backend, the way the
// proxy's filter will: run on Admit, park on Queue, refuse on Reject/expiry/
// displacement, release on completion and admit waiters in a loop.
class AdmissionSim {
 public:
  AdmissionSim(AdmissionConfig config, uint32_t servers, Duration service, uint64_t seed)
      : q_(config), backend_(servers, service, 0.2, seed), rng_(seed + 17) {}

  void startOpenLoop(double rps, std::array<double, kPriorityCount> mix) {
    rate_ = rps;
    mix_ = mix;
    loop_.after(Duration::zero(), [this] { arrival(); });
    tick();
  }
  void stopArrivals() { rate_ = 0; }
  void runFor(Duration d) { loop_.runFor(d); }

  const AdmissionQueue& queue() const { return q_; }
  double successRate(Priority p) const {
    return static_cast<double>(completed_[idx(p)]) / static_cast<double>(arrived_[idx(p)]);
  }
  uint64_t arrived(Priority p) const { return arrived_[idx(p)]; }
  uint64_t completed(Priority p) const { return completed_[idx(p)]; }
  uint64_t refused(Priority p) const { return refused_[idx(p)]; }
  Duration maxWait() const { return max_wait_; }
  uint64_t invariantViolations() const { return violations_; }

 private:
  struct Parked {
    Priority priority;
    TimePoint since;
  };
  void arrival() {
    if (rate_ <= 0) return;
    const double u = rng_.uniform();
    const Priority p = u < mix_[0]             ? Priority::Critical
                       : u < mix_[0] + mix_[1] ? Priority::Normal
                                               : Priority::Sheddable;
    arrived_[idx(p)]++;
    const Decision d = q_.tryAdmit(p, loop_.now());
    if (d.displaced) refuseParked(*d.displaced);
    switch (d.kind) {
      case Kind::Admit:
        run(d.permit, p);
        break;
      case Kind::Queue:
        parked_[d.waiter.value] = Parked{p, loop_.now()};
        break;
      case Kind::Reject:
        refused_[idx(p)]++;
        break;
    }
    loop_.after(rng_.exponential(fromSeconds(1.0 / rate_)), [this] { arrival(); });
  }
  void run(PermitId permit, Priority p) {
    const TimePoint start = loop_.now();
    loop_.at(backend_.submit(start), [this, permit, p, start] {
      completed_[idx(p)]++;
      auto next = q_.release(permit, loop_.now(), loop_.now() - start, false);
      while (next) {
        unpark(*next);
        next = q_.admitNext(loop_.now());
      }
    });
  }
  void unpark(WaiterId w) {
    auto it = parked_.find(w.value);
    ASSERT_NE(it, parked_.end());
    max_wait_ = std::max(max_wait_, loop_.now() - it->second.since);
    const Priority p = it->second.priority;
    parked_.erase(it);
    run(AdmissionQueue::permitOf(w), p);
  }
  void refuseParked(WaiterId w) {
    auto it = parked_.find(w.value);
    ASSERT_NE(it, parked_.end());
    refused_[idx(it->second.priority)]++;
    parked_.erase(it);
  }
  // The caller's 1 ms timer: refuse expired waiters, check the queue is work-conserving.
  void tick() {
    for (WaiterId w : q_.expire(loop_.now())) refuseParked(w);
    if (q_.queued() > 0 && q_.inflight() < q_.explain().sheddable_limit) violations_++;
    if (q_.queued() != parked_.size()) violations_++;
    loop_.after(milliseconds(1), [this] { tick(); });
  }

  sim::EventLoop loop_;
  AdmissionQueue q_;
  sim::Backend backend_;
  sim::SimRandom rng_;
  double rate_ = 0;
  std::array<double, kPriorityCount> mix_{};
  std::unordered_map<uint64_t, Parked> parked_;
  std::array<uint64_t, kPriorityCount> arrived_{};
  std::array<uint64_t, kPriorityCount> completed_{};
  std::array<uint64_t, kPriorityCount> refused_{};
  Duration max_wait_{};
  uint64_t violations_ = 0;
};

constexpr double kCapacityRps = 16 / 0.010;

TEST(AdmissionQueue, OverloadShedsSheddableFirstAndCriticalLast) {
  AdmissionSim s(AdmissionConfig{}, 16, milliseconds(10), 5);
  s.startOpenLoop(2.0 * kCapacityRps, {0.2, 0.5, 0.3});
  s.runFor(seconds(30));
  s.stopArrivals();
  s.runFor(seconds(2));

  const double critical = s.successRate(Priority::Critical);
  const double normal = s.successRate(Priority::Normal);
  const double sheddable = s.successRate(Priority::Sheddable);
  // Capacity is half the offered load: critical (20%) should lose almost nothing,
  // normal (50%) most of the rest, sheddable (30%) takes the cut.
  EXPECT_GT(critical, 0.98);
  EXPECT_GT(normal, 0.5);
  EXPECT_LT(sheddable, 0.2);
  EXPECT_GE(critical, normal);
  EXPECT_GE(normal, sheddable);
  // Every request got exactly one outcome, and nothing leaked.
  for (Priority p : {Priority::Critical, Priority::Normal, Priority::Sheddable}) {
    EXPECT_EQ(s.arrived(p), s.completed(p) + s.refused(p)) << toString(p);
    EXPECT_EQ(s.refused(p), s.queue().counters().rejectedTotal(p)) << toString(p);
  }
  EXPECT_EQ(s.queue().inflight(), 0u);
  EXPECT_EQ(s.queue().queued(), 0u);
  EXPECT_LE(s.maxWait(), milliseconds(50));
  EXPECT_EQ(s.invariantViolations(), 0u);
}

TEST(AdmissionQueue, ModerateLoadRefusesNothing) {
  AdmissionSim s(AdmissionConfig{}, 16, milliseconds(10), 6);
  s.startOpenLoop(0.6 * kCapacityRps, {0.2, 0.5, 0.3});
  s.runFor(seconds(60));
  s.stopArrivals();
  s.runFor(seconds(1));
  for (Priority p : {Priority::Critical, Priority::Normal, Priority::Sheddable}) {
    EXPECT_EQ(s.refused(p), 0u) << toString(p);
  }
  EXPECT_EQ(s.queue().inflight(), 0u);
}

TEST(AdmissionQueue, DeterministicUnderSimulatedTime) {
  auto run = [] {
    AdmissionSim s(AdmissionConfig{}, 16, milliseconds(10), 11);
    s.startOpenLoop(1.5 * kCapacityRps, {0.3, 0.4, 0.3});
    s.runFor(seconds(10));
    const AdmissionCounters& c = s.queue().counters();
    return std::make_tuple(c.admitted, c.queued, c.rejected, s.queue().limit());
  };
  EXPECT_EQ(run(), run());
}

TEST(AdmissionQueue, RandomChurnNeverLeaksPermitsOrWaiters) {
  // Arbitrary interleavings of admits, cancels, disconnects, expiries and
  // double releases, then a drain: everything must come back to zero.
  AdmissionQueue q(fixedLimit(8, 6));
  sim::SimRandom rng(3);
  std::vector<PermitId> running;
  std::vector<WaiterId> waiting;
  TimePoint now = kStart;
  auto admitted = [&](std::optional<WaiterId> w) {
    while (w) {
      waiting.erase(std::remove(waiting.begin(), waiting.end(), *w), waiting.end());
      running.push_back(AdmissionQueue::permitOf(*w));
      w = q.admitNext(now);
    }
  };
  for (int step = 0; step < 20000; ++step) {
    now += std::chrono::microseconds(static_cast<int>(rng.uniform() * 2000));
    const double u = rng.uniform();
    if (u < 0.4) {
      const auto p = static_cast<Priority>(static_cast<int>(rng.uniform() * 3));
      const Decision d =
          q.tryAdmit(p, now, now + milliseconds(5 + static_cast<int>(rng.uniform() * 100)));
      if (d.displaced) {
        waiting.erase(std::remove(waiting.begin(), waiting.end(), *d.displaced), waiting.end());
      }
      if (d.kind == Kind::Admit) running.push_back(d.permit);
      if (d.kind == Kind::Queue) waiting.push_back(d.waiter);
    } else if (u < 0.75 && !running.empty()) {
      const size_t i = static_cast<size_t>(rng.uniform() * static_cast<double>(running.size()));
      const PermitId p = running[i];
      running.erase(running.begin() + static_cast<ptrdiff_t>(i));
      admitted(rng.uniform() < 0.8 ? q.release(p, now, milliseconds(10), rng.uniform() < 0.05)
                                   : q.releaseWithoutSample(p, now));
      if (rng.uniform() < 0.1) q.release(p, now, milliseconds(10), false);  // double release
    } else if (u < 0.85 && !waiting.empty()) {
      const size_t i = static_cast<size_t>(rng.uniform() * static_cast<double>(waiting.size()));
      q.cancel(waiting[i]);
      waiting.erase(waiting.begin() + static_cast<ptrdiff_t>(i));
    } else {
      for (WaiterId w : q.expire(now)) {
        waiting.erase(std::remove(waiting.begin(), waiting.end(), w), waiting.end());
      }
    }
    ASSERT_EQ(q.inflight(), running.size());
    ASSERT_EQ(q.queued(), waiting.size());
    ASSERT_LE(q.inflight(), q.limit());
  }
  while (!running.empty()) {
    const PermitId p = running.back();
    running.pop_back();
    admitted(q.release(p, now, milliseconds(10), false));
    for (WaiterId w : q.expire(now)) {
      waiting.erase(std::remove(waiting.begin(), waiting.end(), w), waiting.end());
    }
  }
  now += seconds(1);
  q.expire(now);
  EXPECT_EQ(q.inflight(), 0u);
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_FALSE(q.nextExpiry().has_value());
}

TEST(AdmissionQueue, ExplainReportsStateAndLimitEvidence) {
  AdmissionQueue q(fixedLimit(2, 4));
  q.tryAdmit(Priority::Normal, kStart);
  q.tryAdmit(Priority::Normal, kStart);
  q.tryAdmit(Priority::Critical, kStart);
  q.tryAdmit(Priority::Sheddable, kStart);  // refused: a critical waits
  q.tryAdmit(Priority::Normal, kStart);
  const AdmissionExplain e = q.explain();
  EXPECT_EQ(e.inflight, 2u);
  EXPECT_EQ(e.queued, 2u);
  EXPECT_EQ(e.queued_by_priority[idx(Priority::Critical)], 1u);
  EXPECT_EQ(e.queued_by_priority[idx(Priority::Normal)], 1u);
  EXPECT_EQ(e.queued_by_priority[idx(Priority::Sheddable)], 0u);
  EXPECT_EQ(e.limit.limit, 2u);
  EXPECT_EQ(e.sheddable_limit, 1u);
  EXPECT_EQ(e.max_queue, 4u);
  EXPECT_FALSE(e.shadow);
}

}  // namespace
}  // namespace rampart::policy
