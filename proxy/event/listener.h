#pragma once
// A listening socket on a dispatcher. Each worker binds its own socket to the
// same address with SO_REUSEPORT, so the kernel spreads connections and no
// accept lock is shared between threads.

#include <functional>
#include <memory>
#include <string>

#include "proxy/event/address.h"
#include "proxy/event/dispatcher.h"

struct evconnlistener;

namespace rampart::event {

struct ListenerDeleter {
  void operator()(evconnlistener* listener) const;
};

// Creates a bound, listening, non-blocking socket with SO_REUSEADDR and SO_REUSEPORT.
// Returns the fd, or -1 with `error` set.
int openListenSocket(const SocketAddress& address, int backlog, std::string* error);

// The locally bound address of a socket (resolves port 0).
SocketAddress localAddress(int fd);

class Listener {
 public:
  using AcceptCallback = std::function<void(int fd, const SocketAddress& peer)>;
  // Takes ownership of `fd`, a listening socket from openListenSocket().
  Listener(Dispatcher& dispatcher, int fd, AcceptCallback on_accept);
  ~Listener();
  // Stops accepting (drain); the socket stays open until destruction.
  void disable();
  // Resumes accepting.
  void enable();
  const SocketAddress& address() const { return address_; }

 private:
  static void onAccept(evconnlistener*, int fd, sockaddr* sa, int len, void* arg);
  AcceptCallback on_accept_;
  SocketAddress address_;
  std::unique_ptr<evconnlistener, ListenerDeleter> listener_;
};

}  // namespace rampart::event
