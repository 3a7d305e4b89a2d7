#include "proxy/event/listener.h"

#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace rampart::event {

void ListenerDeleter::operator()(evconnlistener* listener) const {
  evconnlistener_free(listener);
}

int openListenSocket(const SocketAddress& address, int backlog, std::string* error) {
  const int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, address.sockaddr_ptr(), address.length()) != 0) {
    *error = "bind " + address.toString() + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (listen(fd, backlog) != 0) {
    *error = "listen " + address.toString() + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

SocketAddress localAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof storage;
  getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len);
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&storage), len);
}

Listener::Listener(Dispatcher& dispatcher, int fd, AcceptCallback on_accept)
    : on_accept_(std::move(on_accept)), address_(localAddress(fd)) {
  listener_.reset(evconnlistener_new(dispatcher.base(), &Listener::onAccept, this,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd));
  if (!listener_) {
    close(fd);
    throw std::runtime_error("evconnlistener_new failed");
  }
}

Listener::~Listener() = default;

void Listener::disable() {
  evconnlistener_disable(listener_.get());
}

void Listener::enable() {
  evconnlistener_enable(listener_.get());
}

void Listener::onAccept(evconnlistener*, int fd, sockaddr* sa, int len, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  self->on_accept_(fd, SocketAddress::fromSockaddr(sa, static_cast<socklen_t>(len)));
}

}  // namespace rampart::event
