#pragma once
// RAII owners for the libevent handles the backend uses. Each C handle lives in
// a unique_ptr whose deleter calls the matching libevent free function, so no
// code path can leak or double-free one.

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <memory>

namespace rampart::gpu_backend {

// Frees an event_base.
struct EventBaseDeleter {
  void operator()(event_base* base) const { event_base_free(base); }
};
// Frees an evhttp server (and every connection and request it still owns).
struct EvhttpDeleter {
  void operator()(evhttp* http) const { evhttp_free(http); }
};
// Deletes (un-schedules) and frees one event.
struct EventDeleter {
  void operator()(event* ev) const { event_free(ev); }
};
// Frees an evbuffer.
struct EvbufferDeleter {
  void operator()(evbuffer* buf) const { evbuffer_free(buf); }
};
// Frees an event_config.
struct EventConfigDeleter {
  void operator()(event_config* cfg) const { event_config_free(cfg); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EvhttpPtr = std::unique_ptr<evhttp, EvhttpDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;
using EvbufferPtr = std::unique_ptr<evbuffer, EvbufferDeleter>;
using EventConfigPtr = std::unique_ptr<event_config, EventConfigDeleter>;

}  // namespace rampart::gpu_backend
