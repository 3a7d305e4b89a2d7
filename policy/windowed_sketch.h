#pragma once
// WindowedLatencySketch: latency quantiles over a sliding time window.
//
// Algorithm: the window W is cut into K equal slots of width w = W / K, each a
// LatencySketch tagged with its epoch e = ⌊now / w⌋. A sample goes into slot
// e mod K (cleared first if it still holds an older epoch). A snapshot merges
// the slots whose epoch lies in (e_now − K, e_now], i.e. between W − w and W
// of history, so data older than W never counts and a backend change is
// fully visible after W and half visible after about W / 2; with more slots
// the edge is sharper (the cost is K sketches of memory).
// Time that moves backwards is treated as the latest time already seen.
//
// Thread sharing: none. One instance per worker (or per route and worker);
// the main thread merges snapshots.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "policy/latency_sketch.h"
#include "policy/time.h"

namespace rampart::policy {

class WindowedLatencySketch {
 public:
  // A window of length `window` (> 0) made of `slots` (>= 1) slots; allocates once here.
  WindowedLatencySketch(Duration window, size_t slots);

  // Counts one observation at time `now`; O(1), no allocation.
  void record(TimePoint now, Duration d);
  // The merge of every slot still inside the window at `now`.
  LatencySketch snapshot(TimePoint now) const;
  // Merges the live slots at `now` into `out` (no copy of the whole window).
  void mergeInto(TimePoint now, LatencySketch& out) const;
  // Number of observations inside the window at `now`.
  uint64_t count(TimePoint now) const;
  // Forgets everything.
  void clear();

  // The configured window length.
  Duration window() const { return slot_width_ * static_cast<int64_t>(slots_.size()); }
  // The width of one slot.
  Duration slotWidth() const { return slot_width_; }

 private:
  struct Slot {
    int64_t epoch = 0;
    bool used = false;
    LatencySketch sketch;
  };

  int64_t epochOf(TimePoint now) const;
  bool live(const Slot& slot, int64_t now_epoch) const;

  Duration slot_width_;
  std::vector<Slot> slots_;
  int64_t latest_epoch_ = 0;
  bool any_ = false;
};

}  // namespace rampart::policy
