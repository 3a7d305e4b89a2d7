#include "proxy/event/signal.h"

#include <event2/event.h>

#include <stdexcept>

namespace rampart::event {

SignalEvent::SignalEvent(Dispatcher& dispatcher, int signal, std::function<void()> callback)
    : callback_(std::move(callback)),
      event_(evsignal_new(dispatcher.base(), signal, &SignalEvent::onSignal, this)) {
  if (!event_ || evsignal_add(event_.get(), nullptr) != 0) {
    throw std::runtime_error("cannot install signal handler");
  }
}

void SignalEvent::onSignal(int, short, void* arg) {
  static_cast<SignalEvent*>(arg)->callback_();
}

}  // namespace rampart::event
