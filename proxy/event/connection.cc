#include "proxy/event/connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace rampart::event {

void BuffereventDeleter::operator()(bufferevent* bev) const {
  bufferevent_free(bev);
}

BufferedConnection::BufferedConnection(bufferevent* bev)
    : bev_(bev),
      input_(Buffer::borrow(bufferevent_get_input(bev))),
      output_(Buffer::borrow(bufferevent_get_output(bev))) {
  bufferevent_setcb(bev, &onReadCb, &onWriteCb, &onEventCb, this);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

BufferedConnection::~BufferedConnection() = default;

std::unique_ptr<BufferedConnection> BufferedConnection::adopt(Dispatcher& dispatcher, int fd) {
  bufferevent* bev = bufferevent_socket_new(dispatcher.base(), fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    ::close(fd);
    throw std::runtime_error("bufferevent_socket_new failed");
  }
  auto connection = std::unique_ptr<BufferedConnection>(new BufferedConnection(bev));
  connection->setNoDelay();
  return connection;
}

std::unique_ptr<BufferedConnection> BufferedConnection::connect(Dispatcher& dispatcher,
                                                                const SocketAddress& address) {
  bufferevent* bev = bufferevent_socket_new(dispatcher.base(), -1, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) throw std::runtime_error("bufferevent_socket_new failed");
  auto connection = std::unique_ptr<BufferedConnection>(new BufferedConnection(bev));
  connection->peer_ = address;
  // A synchronous failure (e.g. no route) is reported like an asynchronous one.
  if (bufferevent_socket_connect(bev, const_cast<sockaddr*>(address.sockaddr_ptr()),
                                 static_cast<int>(address.length())) != 0) {
    connection->bev_.reset();
  } else {
    connection->setNoDelay();
  }
  return connection;
}

void BufferedConnection::setNoDelay() {
  const int fd = bufferevent_getfd(bev_.get());
  if (fd < 0) return;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void BufferedConnection::enableRead(bool enable) {
  if (!bev_ || enable == read_enabled_) return;
  read_enabled_ = enable;
  if (enable) {
    bufferevent_enable(bev_.get(), EV_READ);
  } else {
    bufferevent_disable(bev_.get(), EV_READ);
  }
}

void BufferedConnection::setWriteLowWatermark(size_t bytes) {
  if (bev_) bufferevent_setwatermark(bev_.get(), EV_WRITE, bytes, 0);
}

void BufferedConnection::setReadHighWatermark(size_t bytes) {
  if (bev_) bufferevent_setwatermark(bev_.get(), EV_READ, 0, bytes);
}

void BufferedConnection::close() {
  callbacks_ = nullptr;
  bev_.reset();
}

void BufferedConnection::abort() {
  if (bev_) {
    const int fd = bufferevent_getfd(bev_.get());
    if (fd >= 0) {
      const linger hard{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
  }
}

void BufferedConnection::shutdownWrite() {
  if (!bev_) return;
  const int fd = bufferevent_getfd(bev_.get());
  if (fd >= 0) ::shutdown(fd, SHUT_WR);
}

void BufferedConnection::onReadCb(bufferevent*, void* arg) {
  auto* self = static_cast<BufferedConnection*>(arg);
  if (self->callbacks_) self->callbacks_->onRead();
}

void BufferedConnection::onWriteCb(bufferevent*, void* arg) {
  auto* self = static_cast<BufferedConnection*>(arg);
  if (self->callbacks_) self->callbacks_->onWriteDrained();
}

void BufferedConnection::onEventCb(bufferevent*, short events, void* arg) {
  auto* self = static_cast<BufferedConnection*>(arg);
  if (events & BEV_EVENT_CONNECTED) {
    if (self->callbacks_) self->callbacks_->onConnected();
    return;
  }
  CloseReason reason = CloseReason::Error;
  if (events & BEV_EVENT_EOF) reason = CloseReason::RemoteClose;
  // An error while connecting means the connect failed.
  if ((events & BEV_EVENT_ERROR) && !(events & BEV_EVENT_READING) &&
      !(events & BEV_EVENT_WRITING)) {
    reason = CloseReason::ConnectFailed;
  }
  // Stop further events; the owner decides when to free the object. After a clean
  // EOF (half-close) queued output may still be flushed.
  bufferevent_disable(self->bev_.get(),
                      reason == CloseReason::RemoteClose ? EV_READ : EV_READ | EV_WRITE);
  self->read_enabled_ = false;
  if (self->callbacks_) self->callbacks_->onClose(reason);
}

}  // namespace rampart::event
