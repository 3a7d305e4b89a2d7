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

#include "proxy/tls/tls_transport.h"

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

std::unique_ptr<BufferedConnection> BufferedConnection::adoptTls(
    Dispatcher& dispatcher, int fd, std::shared_ptr<tls::TlsContext> context) {
  auto connection = adopt(dispatcher, fd);
  connection->tls_ = tls::TlsTransport::server(std::move(context));
  return connection;
}

std::unique_ptr<BufferedConnection> BufferedConnection::connectTls(
    Dispatcher& dispatcher, const SocketAddress& address, std::shared_ptr<tls::TlsContext> context,
    std::string_view server_name) {
  std::string name(server_name);
  if (name.empty()) name = context->serverName();
  if (name.empty()) name = address.hostString();  // verified against an IP SAN
  // Sessions resume per server name and endpoint: another endpoint may not know our ticket.
  std::string session_key = name + "@" + address.toString();
  auto connection = connect(dispatcher, address);
  connection->tls_ = tls::TlsTransport::client(std::move(context), name, std::move(session_key));
  connection->tls_client_ = true;
  return connection;
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

size_t BufferedConnection::pendingOutput() const {
  return output_.length() + (tls_ ? tls_->wireOut().length() : 0);
}

Buffer& BufferedConnection::wireIn() {
  return tls_ ? tls_->wireIn() : input_;
}

Buffer& BufferedConnection::wireOut() {
  return tls_ ? tls_->wireOut() : output_;
}

void BufferedConnection::scheduleFlush() {
  // While waiting for writability the write event does the flushing.
  if (flush_scheduled_ || write_armed_ || connecting_) return;
  flush_scheduled_ = true;
  dispatcher_.scheduleFlush(this);
}

bool BufferedConnection::encryptOutput() {
  // Before the handshake completes, plaintext waits in output_.
  if (!tls_->handshakeComplete()) return true;
  if (!output_.empty() && !tls_->encrypt(output_)) return false;
  if (shutdown_pending_ && output_.empty()) tls_->shutdown();
  return true;
}

void BufferedConnection::flush() {
  flush_scheduled_ = false;
  if (fd_ < 0 || connecting_) return;
  if (tls_ && !encryptOutput()) {
    fail(CloseReason::Error);
    return;
  }
  Buffer& wire = wireOut();
  bool wrote = false;
  while (!wire.empty()) {
    const int n = evbuffer_write(wire.raw(), fd_);
    if (n > 0) {
      wrote = true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    fail(CloseReason::Error);
    return;
  }
  if (!wire.empty() && !write_armed_) {
    event_add(write_event_.get(), nullptr);
    write_armed_ = true;
  } else if (wire.empty() && write_armed_) {
    event_del(write_event_.get());
    write_armed_ = false;
  }
  // Under TLS, plaintext still waiting for the handshake keeps the FIN back.
  if (wire.empty() && output_.empty() && shutdown_pending_) {
    shutdown_pending_ = false;
    ::shutdown(fd_, SHUT_WR);
  }
  if (wrote && pendingOutput() <= write_low_watermark_ && callbacks_) callbacks_->onWriteDrained();
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
  Buffer& target = wireIn();
  evbuffer_iovec vec[2];
  const int nvec = evbuffer_reserve_space(target.raw(), kReadChunk, vec, 2);
  if (nvec <= 0) {
    fail(CloseReason::Error);
    return;
  }
  const ssize_t n = ::readv(fd_, reinterpret_cast<iovec*>(vec), nvec);
  if (n < 0) {
    evbuffer_commit_space(target.raw(), vec, 0);
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
  evbuffer_commit_space(target.raw(), vec, used);
  if (n == 0) {
    peer_eof_ = true;
    updateReadInterest();
    if (tls_) {
      // The session ends with the socket: report it as close_notify, truncation or a
      // handshake cut short, after whatever plaintext is left.
      tls_->setEof();
      if (!processTlsInput()) return;
    }
    if (callbacks_) callbacks_->onClose(CloseReason::RemoteClose);
    return;
  }
  if (tls_ && !processTlsInput()) return;
  if (!tls_ && callbacks_) callbacks_->onRead();
  updateReadInterest();
}

bool BufferedConnection::processTlsInput() {
  const size_t before = input_.length();
  bool handshake_done = false;
  const auto status = tls_->onWireInput(input_, handshake_done);
  if (status == tls::TlsTransport::Status::HandshakeFailed) {
    // Best effort: let the peer see the alert (unknown CA, bad certificate) before we go.
    // send() rather than writev: a peer that already left must not raise SIGPIPE.
    tls_->wireOut().forEachChunk([this](std::string_view chunk) {
      return ::send(fd_, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
             static_cast<ssize_t>(chunk.size());
    });
    fail(CloseReason::TlsHandshakeFailed);
    return false;
  }
  if (status == tls::TlsTransport::Status::Failed) {
    fail(CloseReason::Error);
    return false;
  }
  // Handshake records, session tickets, key updates: write them this loop pass.
  if (!tls_->wireOut().empty() || (handshake_done && !output_.empty())) scheduleFlush();
  if (handshake_done && tls_client_ && callbacks_) {
    callbacks_->onConnected();
    if (fd_ < 0) return false;
  }
  if (input_.length() > before && callbacks_) {
    callbacks_->onRead();
    if (fd_ < 0) return false;
  }
  if (status == tls::TlsTransport::Status::Closed) {
    peer_eof_ = true;
    updateReadInterest();
    if (callbacks_) callbacks_->onClose(CloseReason::RemoteClose);
    return false;
  }
  return true;
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
    if (tls_) {
      // TCP is up; the owner hears onConnected() once the handshake is done.
      if (tls_->startHandshake() != tls::TlsTransport::Status::Ok) {
        fail(CloseReason::TlsHandshakeFailed);
        return;
      }
      flush();
      return;
    }
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
  if (tls_) tls_->wireOut().drain(tls_->wireOut().length());
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
  if (!tls_ && output_.empty()) {
    ::shutdown(fd_, SHUT_WR);
    return;
  }
  // TLS sends close_notify first; flush() sends the FIN once everything is out.
  shutdown_pending_ = true;
  scheduleFlush();
}

bool BufferedConnection::handshakeComplete() const {
  return !tls_ || tls_->handshakeComplete();
}

std::string_view BufferedConnection::alpn() const {
  return tls_ ? tls_->alpn() : std::string_view();
}

std::optional<std::string> BufferedConnection::peerIdentity() const {
  if (!tls_ || !tls_->handshakeComplete()) return std::nullopt;
  return tls_->peerIdentity();
}

bool BufferedConnection::tlsSessionReused() const {
  return tls_ && tls_->sessionReused();
}

std::string_view BufferedConnection::tlsError() const {
  return tls_ ? std::string_view(tls_->error()) : std::string_view();
}

}  // namespace rampart::event
