#pragma once
// A signal delivered as an event on a dispatcher's loop (libevent evsignal),
// so handlers run as ordinary callbacks, not in signal context.

#include <functional>

#include "proxy/event/dispatcher.h"

namespace rampart::event {

class SignalEvent {
 public:
  SignalEvent(Dispatcher& dispatcher, int signal, std::function<void()> callback);
  SignalEvent(const SignalEvent&) = delete;
  SignalEvent& operator=(const SignalEvent&) = delete;

 private:
  static void onSignal(int, short, void* arg);
  std::function<void()> callback_;
  EventPtr event_;
};

}  // namespace rampart::event
