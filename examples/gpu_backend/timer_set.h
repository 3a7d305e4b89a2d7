#pragma once
// TimerSet: one-shot callbacks on an event loop ("run this after d"). Each
// pending timer owns its libevent event; destroying the set cancels every
// timer that has not fired, so a callback never runs after its owner is gone.

#include <chrono>
#include <functional>
#include <memory>
#include <unordered_map>

#include "examples/gpu_backend/event_handles.h"

namespace rampart::gpu_backend {

class TimerSet {
 public:
  // Timers run on `base`, which must outlive the set.
  explicit TimerSet(event_base* base) : base_(base) {}
  TimerSet(const TimerSet&) = delete;
  TimerSet& operator=(const TimerSet&) = delete;

  // Runs `fn` once, `delay` from now (0 = on the next loop iteration); never inline.
  void after(std::chrono::microseconds delay, std::function<void()> fn);
  // Number of timers that have not fired yet.
  size_t pending() const { return timers_.size(); }

 private:
  struct Timer {
    EventPtr event;
    std::function<void()> fn;
    TimerSet* owner = nullptr;
  };
  static void onFire(evutil_socket_t, short, void* arg);

  event_base* base_;
  std::unordered_map<Timer*, std::unique_ptr<Timer>> timers_;
};

}  // namespace rampart::gpu_backend
