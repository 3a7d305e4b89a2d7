#include "policy/windowed_sketch.h"

#include <algorithm>

namespace rampart::policy {

WindowedLatencySketch::WindowedLatencySketch(Duration window, size_t slots)
    : slot_width_(std::max<Duration>(Duration(1),
                                     window / static_cast<int64_t>(std::max<size_t>(slots, 1)))),
      slots_(std::max<size_t>(slots, 1)) {}

int64_t WindowedLatencySketch::epochOf(TimePoint now) const {
  const int64_t t = now.time_since_epoch().count();
  const int64_t w = slot_width_.count();
  // Floor division, so times before the clock's epoch still map to ordered slots.
  int64_t e = t / w;
  if (t % w != 0 && t < 0) --e;
  // Never let time run backwards: a late sample joins the newest slot.
  return any_ ? std::max(e, latest_epoch_) : e;
}

bool WindowedLatencySketch::live(const Slot& slot, int64_t now_epoch) const {
  return slot.used && slot.epoch <= now_epoch &&
         slot.epoch > now_epoch - static_cast<int64_t>(slots_.size());
}

void WindowedLatencySketch::record(TimePoint now, Duration d) {
  const int64_t e = epochOf(now);
  const auto k = static_cast<int64_t>(slots_.size());
  Slot& slot = slots_[static_cast<size_t>(((e % k) + k) % k)];
  if (!slot.used || slot.epoch != e) {
    slot.sketch.clear();
    slot.epoch = e;
    slot.used = true;
  }
  slot.sketch.record(d);
  latest_epoch_ = e;
  any_ = true;
}

void WindowedLatencySketch::mergeInto(TimePoint now, LatencySketch& out) const {
  const int64_t e = epochOf(now);
  for (const Slot& slot : slots_) {
    if (live(slot, e)) out.merge(slot.sketch);
  }
}

LatencySketch WindowedLatencySketch::snapshot(TimePoint now) const {
  LatencySketch out;
  mergeInto(now, out);
  return out;
}

uint64_t WindowedLatencySketch::count(TimePoint now) const {
  const int64_t e = epochOf(now);
  uint64_t n = 0;
  for (const Slot& slot : slots_) {
    if (live(slot, e)) n += slot.sketch.count();
  }
  return n;
}

void WindowedLatencySketch::clear() {
  for (Slot& slot : slots_) {
    slot.sketch.clear();
    slot.used = false;
  }
  any_ = false;
  latest_epoch_ = 0;
}

}  // namespace rampart::policy
