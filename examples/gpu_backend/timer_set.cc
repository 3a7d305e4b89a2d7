#include "examples/gpu_backend/timer_set.h"

#include <sys/time.h>

#include <algorithm>

namespace rampart::gpu_backend {

void TimerSet::after(std::chrono::microseconds delay, std::function<void()> fn) {
  auto timer = std::make_unique<Timer>();
  Timer* raw = timer.get();
  raw->fn = std::move(fn);
  raw->owner = this;
  raw->event.reset(evtimer_new(base_, &TimerSet::onFire, raw));
  const auto us = std::max<int64_t>(0, delay.count());
  timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  evtimer_add(raw->event.get(), &tv);
  timers_.emplace(raw, std::move(timer));
}

void TimerSet::onFire(evutil_socket_t, short, void* arg) {
  auto* raw = static_cast<Timer*>(arg);
  TimerSet* self = raw->owner;
  // Take the callback out and drop the timer first: the callback may add timers
  // (rehashing the map) or, at shutdown, destroy the set itself.
  std::function<void()> fn = std::move(raw->fn);
  self->timers_.erase(raw);
  fn();
}

}  // namespace rampart::gpu_backend
