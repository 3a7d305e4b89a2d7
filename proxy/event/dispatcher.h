#pragma once
// The one place that owns a libevent event_base. Each worker thread and the
// main thread run one Dispatcher; everything that needs timers, sockets or
// cross-thread messages goes through it, so nothing else includes <event2/*>.

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "policy/time.h"

struct event_base;
struct event;

namespace rampart::event {

using policy::Duration;
using policy::TimePoint;

struct EventBaseDeleter {
  void operator()(event_base* base) const;
};
struct EventDeleter {
  void operator()(::event* ev) const;
};
using EventPtr = std::unique_ptr<::event, EventDeleter>;

// Reads the monotonic clock (CLOCK_MONOTONIC through the vDSO).
TimePoint monotonicNow();

class Dispatcher;

// Objects handed to Dispatcher::deferredDelete() derive from this.
class Deletable {
 public:
  virtual ~Deletable() = default;
};

// Something with queued output to write once the current callback is done.
class Flushable {
 public:
  virtual ~Flushable() = default;
  // Writes what is queued; called once per scheduleFlush() from the loop.
  virtual void flush() = 0;
};

// A one-shot timer bound to a dispatcher. Destroying it cancels it.
class Timer {
 public:
  Timer(Dispatcher& dispatcher, std::function<void()> callback);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  // (Re)arms the timer to fire once after `delay`.
  void enable(Duration delay);
  // Cancels a pending firing; harmless when not armed.
  void disable();
  // True while a firing is pending.
  bool enabled() const;

 private:
  static void onFire(int, short, void* arg);
  event_base* base_;
  std::function<void()> callback_;
  EventPtr event_;  // created on the first enable()
};

// Runs an event loop on the calling thread. post() is the only method that
// may be called from another thread.
class Dispatcher : public policy::TimeSource {
 public:
  Dispatcher();
  ~Dispatcher() override;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Runs the loop until exit() is called or nothing is left to wait for.
  void run();
  // Makes run() return after the current callbacks; call from the loop thread or via post().
  void exit();
  // Queues `task` to run on the loop thread. Thread-safe; takes a lock only here,
  // never on the request path.
  void post(std::function<void()> task);
  // The monotonic time (a fresh read; cheap).
  TimePoint now() const override { return monotonicNow(); }
  // Destroys `object` after the current callback returns, so an object can end
  // its own life (or another's) from inside a callback that is still on the stack.
  void deferredDelete(std::unique_ptr<Deletable> object);
  // Runs `task` on this thread after the current callback returns.
  void defer(std::function<void()> task);
  // Calls target->flush() after the current callback (once per call).
  void scheduleFlush(Flushable* target);
  // Forgets a scheduled flush (the target is going away).
  void cancelFlush(Flushable* target);
  // Runs deferred tasks and deletions now (shutdown, after the loop ended).
  void flushDeferred() { onDeferred(-1, 0, this); }
  // The underlying base, for the event/ wrappers only.
  event_base* base() const { return base_.get(); }

 private:
  static void onWakeup(int fd, short, void* arg);
  static void onDeferred(int, short, void* arg);
  void runPosted();
  void scheduleDeferred();

  std::unique_ptr<event_base, EventBaseDeleter> base_;
  int wakeup_fd_ = -1;  // eventfd, closed in the destructor
  EventPtr wakeup_event_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  // Loop-thread only.
  EventPtr deferred_event_;
  std::vector<std::unique_ptr<Deletable>> to_delete_;
  std::vector<std::function<void()>> deferred_tasks_;
  std::vector<Flushable*> flushes_;
};

}  // namespace rampart::event
