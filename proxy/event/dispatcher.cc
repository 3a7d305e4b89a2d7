#include "proxy/event/dispatcher.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <stdexcept>

namespace rampart::event {

void EventBaseDeleter::operator()(event_base* base) const {
  event_base_free(base);
}
void EventDeleter::operator()(::event* ev) const {
  event_free(ev);
}

TimePoint monotonicNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return TimePoint{std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)};
}

namespace {
timeval toTimeval(Duration d) {
  if (d < Duration::zero()) d = Duration::zero();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}
}  // namespace

Timer::Timer(Dispatcher& dispatcher, std::function<void()> callback)
    : base_(dispatcher.base()), callback_(std::move(callback)) {}

void Timer::enable(Duration delay) {
  // The event is made on first use: most per-request timers are never armed.
  if (!event_) {
    event_.reset(evtimer_new(base_, &Timer::onFire, this));
    if (!event_) throw std::runtime_error("evtimer_new failed");
  }
  const timeval tv = toTimeval(delay);
  evtimer_add(event_.get(), &tv);
}

void Timer::disable() {
  if (event_) evtimer_del(event_.get());
}

bool Timer::enabled() const {
  return event_ && evtimer_pending(event_.get(), nullptr) != 0;
}

void Timer::onFire(int, short, void* arg) {
  // The callback may destroy the Timer's owner; copy nothing after the call.
  static_cast<Timer*>(arg)->callback_();
}

Dispatcher::Dispatcher() {
  event_config* cfg = event_config_new();
  // No locking inside the base: each base is touched by one thread only.
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  base_.reset(event_base_new_with_config(cfg));
  event_config_free(cfg);
  if (!base_) throw std::runtime_error("event_base_new failed");
  wakeup_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeup_fd_ < 0) throw std::runtime_error("eventfd failed");
  wakeup_event_.reset(
      event_new(base_.get(), wakeup_fd_, EV_READ | EV_PERSIST, &Dispatcher::onWakeup, this));
  event_add(wakeup_event_.get(), nullptr);
  deferred_event_.reset(event_new(base_.get(), -1, 0, &Dispatcher::onDeferred, this));
}

Dispatcher::~Dispatcher() {
  // Destroy what is still queued while the base is alive (their destructors free events).
  while (!to_delete_.empty() || !deferred_tasks_.empty() || !flushes_.empty()) {
    onDeferred(-1, 0, this);
  }
  deferred_event_.reset();
  wakeup_event_.reset();
  if (wakeup_fd_ >= 0) close(wakeup_fd_);
}

void Dispatcher::run() {
  event_base_loop(base_.get(), 0);
}

void Dispatcher::exit() {
  event_base_loopbreak(base_.get());
}

void Dispatcher::deferredDelete(std::unique_ptr<Deletable> object) {
  if (!object) return;
  to_delete_.push_back(std::move(object));
  scheduleDeferred();
}

void Dispatcher::defer(std::function<void()> task) {
  deferred_tasks_.push_back(std::move(task));
  scheduleDeferred();
}

void Dispatcher::scheduleFlush(Flushable* target) {
  flushes_.push_back(target);
  scheduleDeferred();
}

void Dispatcher::cancelFlush(Flushable* target) {
  for (auto& f : flushes_) {
    if (f == target) f = nullptr;
  }
}

void Dispatcher::scheduleDeferred() {
  if (!event_pending(deferred_event_.get(), EV_TIMEOUT, nullptr)) {
    event_active(deferred_event_.get(), EV_TIMEOUT, 0);
  }
}

void Dispatcher::onDeferred(int, short, void* arg) {
  auto* self = static_cast<Dispatcher*>(arg);
  // Flushes, tasks and deletions may queue more; take batches until none are left.
  while (!self->flushes_.empty() || !self->deferred_tasks_.empty() || !self->to_delete_.empty()) {
    // Index loop: a flush may schedule more flushes (appended) or cancel others.
    for (size_t i = 0; i < self->flushes_.size(); ++i) {
      if (Flushable* target = self->flushes_[i]) {
        self->flushes_[i] = nullptr;
        target->flush();
      }
    }
    self->flushes_.clear();
    std::vector<std::function<void()>> tasks;
    tasks.swap(self->deferred_tasks_);
    for (auto& task : tasks) task();
    std::vector<std::unique_ptr<Deletable>> doomed;
    doomed.swap(self->to_delete_);
    doomed.clear();
  }
}

void Dispatcher::post(std::function<void()> task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  // A full counter still wakes the loop, so a failed write loses nothing.
  [[maybe_unused]] ssize_t n = write(wakeup_fd_, &one, sizeof one);
}

void Dispatcher::onWakeup(int fd, short, void* arg) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = read(fd, &count, sizeof count);
  static_cast<Dispatcher*>(arg)->runPosted();
}

void Dispatcher::runPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

}  // namespace rampart::event
