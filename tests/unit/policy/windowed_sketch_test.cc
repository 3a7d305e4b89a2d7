#include "policy/windowed_sketch.h"

#include <gtest/gtest.h>

namespace rampart::policy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Records `per_second` samples of `latency`, spread evenly over [t, t + span).
TimePoint feed(WindowedLatencySketch& w, TimePoint t, Duration span, int per_second,
               Duration latency) {
  const Duration step = Duration(seconds(1)) / per_second;
  const TimePoint end = t + span;
  for (; t < end; t += step) w.record(t, latency);
  return t;
}

TEST(WindowedLatencySketchTest, SamplesExpireAfterTheWindow) {
  SimulatedTimeSource clock;
  WindowedLatencySketch w(seconds(10), 5);
  EXPECT_EQ(w.window(), seconds(10));
  EXPECT_EQ(w.slotWidth(), seconds(2));
  for (int i = 0; i < 100; ++i) w.record(clock.now(), milliseconds(10));
  EXPECT_EQ(w.count(clock.now()), 100u);
  clock.advance(seconds(7));
  EXPECT_EQ(w.count(clock.now()), 100u);
  clock.advance(seconds(4));  // 11 s later: the slot is out of every window
  EXPECT_EQ(w.count(clock.now()), 0u);
  EXPECT_EQ(w.snapshot(clock.now()).quantile(0.5), Duration::zero());
}

TEST(WindowedLatencySketchTest, SnapshotMergesOnlyLiveSlots) {
  SimulatedTimeSource clock;
  WindowedLatencySketch w(seconds(10), 5);
  TimePoint t = feed(w, clock.now(), seconds(4), 100, milliseconds(10));
  t = feed(w, t, seconds(4), 100, milliseconds(40));
  const LatencySketch snap = w.snapshot(t);
  EXPECT_EQ(snap.count(), 800u);
  EXPECT_EQ(snap.min(), milliseconds(10));
  EXPECT_EQ(snap.max(), milliseconds(40));
  EXPECT_EQ(w.count(t), 800u);
}

TEST(WindowedLatencySketchTest, BackendChangeShowsWithinTheWindow) {
  SimulatedTimeSource clock;
  WindowedLatencySketch w(seconds(10), 5);
  TimePoint t = feed(w, clock.now(), seconds(30), 200, milliseconds(10));
  ASSERT_NEAR(toMillis(w.snapshot(t).quantile(0.5)), 10.0, 0.1);
  // The backend slows down 10x; find when the median moves over.
  const TimePoint change = t;
  double switched_after_s = -1;
  double fully_after_s = -1;
  for (int step = 0; step < 150; ++step) {
    t = feed(w, t, milliseconds(100), 200, milliseconds(100));
    const LatencySketch snap = w.snapshot(t);
    const double elapsed = toSeconds(t - change);
    if (switched_after_s < 0 && snap.quantile(0.5) >= milliseconds(99)) switched_after_s = elapsed;
    if (fully_after_s < 0 && snap.min() >= milliseconds(100)) fully_after_s = elapsed;
  }
  // Half the window must be new data for the median to move: ~W/2 = 5 s, plus at
  // most one slot of slack; every old sample is gone after at most W.
  EXPECT_GE(switched_after_s, 4.0);
  EXPECT_LE(switched_after_s, 7.1);
  EXPECT_GT(fully_after_s, 7.9);
  EXPECT_LE(fully_after_s, 10.05);
}

TEST(WindowedLatencySketchTest, LongIdleThenNewTraffic) {
  SimulatedTimeSource clock;
  WindowedLatencySketch w(seconds(10), 5);
  feed(w, clock.now(), seconds(10), 100, milliseconds(500));
  clock.advance(seconds(3600));
  feed(w, clock.now(), seconds(1), 100, milliseconds(5));
  const LatencySketch snap = w.snapshot(clock.now() + seconds(1));
  EXPECT_EQ(snap.count(), 100u);
  EXPECT_EQ(snap.max(), milliseconds(5));
}

TEST(WindowedLatencySketchTest, TimeGoingBackwardsJoinsTheNewestSlot) {
  SimulatedTimeSource clock;
  WindowedLatencySketch w(seconds(10), 5);
  const TimePoint t0 = clock.now();
  w.record(t0 + seconds(20), milliseconds(1));
  w.record(t0, milliseconds(2));  // stale timestamp
  EXPECT_EQ(w.count(t0 + seconds(20)), 2u);
  EXPECT_EQ(w.count(t0 + seconds(31)), 0u);
}

TEST(WindowedLatencySketchTest, ClearAndDegenerateConfig) {
  SimulatedTimeSource clock;
  WindowedLatencySketch w(seconds(1), 0);  // zero slots is treated as one
  w.record(clock.now(), milliseconds(3));
  EXPECT_EQ(w.count(clock.now()), 1u);
  w.clear();
  EXPECT_EQ(w.count(clock.now()), 0u);
}

}  // namespace
}  // namespace rampart::policy
