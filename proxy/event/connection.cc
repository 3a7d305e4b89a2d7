#include "proxy/event/connection.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace rampart::event {

namespace {
// One read takes at most this much: enough for many pipelined requests or a
// large body slice, small enough to keep the loop fair between connections.
constexpr size_t kReadChunk = 64 * 1024;

void setNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}
}  // namespace

BufferedConnection::BufferedConnection(Dispatcher& dispatcher, int fd, bool connecting)
    : dispatcher_(dispatcher), fd_(fd), connecting_(connecting) {
  read_event_.reset(event_new(dispatcher.base(), fd, EV_READ | EV_PERSIST, &onReadableCb, this));
  write_event_.reset(event_new(dispatcher.base(), fd, EV_WRITE | EV_PERSIST, &onWritableCb, this));
  if (!read_event_ || !write_event_) throw std::runtime_error("event_new failed");
  if (connecting_) {
    event_add(write_event_.get(), nullptr);
    write_armed_ = true;
  } else {
    updateReadInterest();
  }
}

BufferedConnection::~BufferedConnection() {
  if (flush_scheduled_) dispatcher_.cancelFlush(this);
  read_event_.reset();
  write_event_.reset();
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<BufferedConnection> BufferedConnection::adopt(Dispatcher& dispatcher, int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (!(flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  setNoDelay(fd);
  return std::unique_ptr<BufferedConnection>(new BufferedConnection(dispatcher, fd, false));
}

std::unique_ptr<BufferedConnection> BufferedConnection::connect(Dispatcher& dispatcher,
                                                                const SocketAddress& address) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  setNoDelay(fd);
  const int rc = ::connect(fd, address.sockaddr_ptr(), address.length());
  auto connection =
      std::unique_ptr<BufferedConnection>(new BufferedConnection(dispatcher, fd, true));
  connection->peer_ = address;
  if (rc != 0 && errno != EINPROGRESS) {
    // Refused at once (or unreachable): report it from the loop like an async failure.
    connection->connect_error_now_ = true;
  }
  return connection;
}

void BufferedConnection::write(std::string_view data) {
  if (fd_ < 0 || data.empty()) return;
  output_.add(data);
  scheduleFlush();
}

void BufferedConnection::write(Buffer& data) {
  if (fd_ < 0 || data.empty()) {
    data.drain(data.length());
    return;
  }
  output_.moveFrom(data);
  scheduleFlush();
}

void BufferedConnection::scheduleFlush() {
  // While waiting for writability the write event does the flushing.
  if (flush_scheduled_ || write_armed_ || connecting_) return;
  flush_scheduled_ = true;
  dispatcher_.scheduleFlush(this);
}

void BufferedConnection::flush() {
  flush_scheduled_ = false;
  if (fd_ < 0 || connecting_) return;
  bool wrote = false;
  while (!output_.empty()) {
    const int n = evbuffer_write(output_.raw(), fd_);
    if (n > 0) {
      wrote = true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    fail(CloseReason::Error);
    return;
  }
  if (!output_.empty() && !write_armed_) {
    event_add(write_event_.get(), nullptr);
    write_armed_ = true;
  } else if (output_.empty() && write_armed_) {
    event_del(write_event_.get());
    write_armed_ = false;
  }
  if (output_.empty() && shutdown_pending_) {
    shutdown_pending_ = false;
    ::shutdown(fd_, SHUT_WR);
  }
  if (wrote && output_.length() <= write_low_watermark_ && callbacks_) callbacks_->onWriteDrained();
}

void BufferedConnection::enableRead(bool enable) {
  read_enabled_ = enable;
  updateReadInterest();
}

void BufferedConnection::updateReadInterest() {
  if (fd_ < 0 || connecting_) return;
  const bool want = read_enabled_ && !peer_eof_ &&
                    (read_high_watermark_ == 0 || input_.length() < read_high_watermark_);
  if (want && !read_armed_) {
    event_add(read_event_.get(), nullptr);
    read_armed_ = true;
  } else if (!want && read_armed_) {
    event_del(read_event_.get());
    read_armed_ = false;
  }
}

void BufferedConnection::onReadableCb(int, short, void* arg) {
  static_cast<BufferedConnection*>(arg)->onReadable();
}

void BufferedConnection::onWritableCb(int, short, void* arg) {
  static_cast<BufferedConnection*>(arg)->onWritable();
}

void BufferedConnection::onReadable() {
  evbuffer_iovec vec[2];
  const int nvec = evbuffer_reserve_space(input_.raw(), kReadChunk, vec, 2);
  if (nvec <= 0) {
    fail(CloseReason::Error);
    return;
  }
  const ssize_t n = ::readv(fd_, reinterpret_cast<iovec*>(vec), nvec);
  if (n < 0) {
    evbuffer_commit_space(input_.raw(), vec, 0);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    fail(CloseReason::Error);
    return;
  }
  // Trim the reserved extents to what was read before committing.
  size_t remaining = static_cast<size_t>(n);
  int used = 0;
  for (int i = 0; i < nvec && remaining > 0; ++i, ++used) {
    if (vec[i].iov_len > remaining) vec[i].iov_len = remaining;
    remaining -= vec[i].iov_len;
  }
  evbuffer_commit_space(input_.raw(), vec, used);
  if (n == 0) {
    peer_eof_ = true;
    updateReadInterest();
    if (callbacks_) callbacks_->onClose(CloseReason::RemoteClose);
    return;
  }
  if (callbacks_) callbacks_->onRead();
  updateReadInterest();
}

void BufferedConnection::onWritable() {
  if (connecting_) {
    if (connect_error_now_) {
      fail(CloseReason::ConnectFailed);
      return;
    }
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      fail(CloseReason::ConnectFailed);
      return;
    }
    connecting_ = false;
    event_del(write_event_.get());
    write_armed_ = false;
    updateReadInterest();
    if (callbacks_) callbacks_->onConnected();
    if (fd_ >= 0 && !output_.empty()) scheduleFlush();
    return;
  }
  flush();
}

void BufferedConnection::fail(CloseReason reason) {
  // Stop all events; the owner destroys the object when it is ready to.
  if (read_armed_) event_del(read_event_.get());
  if (write_armed_) event_del(write_event_.get());
  read_armed_ = write_armed_ = false;
  peer_eof_ = true;
  connecting_ = false;
  output_.drain(output_.length());
  if (callbacks_) callbacks_->onClose(reason);
}

void BufferedConnection::close() {
  callbacks_ = nullptr;
  if (fd_ < 0) return;
  if (read_armed_) event_del(read_event_.get());
  if (write_armed_) event_del(write_event_.get());
  read_armed_ = write_armed_ = false;
  ::close(fd_);
  fd_ = -1;
}

void BufferedConnection::abort() {
  if (fd_ < 0) return;
  const linger hard{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
}

void BufferedConnection::shutdownWrite() {
  if (fd_ < 0) return;
  if (output_.empty()) {
    ::shutdown(fd_, SHUT_WR);
  } else {
    shutdown_pending_ = true;
  }
}

}  // namespace rampart::event
