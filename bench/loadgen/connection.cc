#include "bench/loadgen/connection.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace rampart::loadgen {

Connection::Connection(event_base* base, ConnectionCallbacks& callbacks, bool headRequests)
    : base_(base), callbacks_(callbacks), headRequests_(headRequests) {}

Connection::~Connection() {
  close();
}

bool Connection::open(const sockaddr_in& address) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  // Requests are small and latency is the measurement: never wait for Nagle.
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  if (rc != 0 && errno != EINPROGRESS) {
    close();
    return false;
  }
  connected_ = rc == 0;
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_headers_complete = &Connection::onHeadersComplete;
    s.on_message_complete = &Connection::onMessageComplete;
    return s;
  }();
  llhttp_init(&parser_, HTTP_RESPONSE, &settings);
  parser_.data = this;
  readEvent_.reset(event_new(base_, fd_, EV_READ | EV_PERSIST, &Connection::onReadable, this));
  writeEvent_.reset(event_new(base_, fd_, EV_WRITE | EV_PERSIST, &Connection::onWritable, this));
  event_add(readEvent_.get(), nullptr);
  if (!connected_) {  // writable once the handshake is done (or has failed)
    event_add(writeEvent_.get(), nullptr);
    writeArmed_ = true;
  }
  return true;
}

void Connection::send(std::string_view wire) {
  pending_ = wire;
  written_ = 0;
  if (connected_) flush();
}

void Connection::close() {
  readEvent_.reset();
  writeEvent_.reset();
  writeArmed_ = false;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  connected_ = false;
}

void Connection::onReadable(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (!self->connected_ && !self->finishConnect()) return;
  self->readAvailable();
}

void Connection::onWritable(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Connection*>(arg);
  if (!self->connected_ && !self->finishConnect()) return;
  self->flush();
}

int Connection::onHeadersComplete(llhttp_t* parser) {
  // 1 tells llhttp that this response has no body (the answer to a HEAD).
  return static_cast<Connection*>(parser->data)->headRequests_ ? 1 : 0;
}

int Connection::onMessageComplete(llhttp_t* parser) {
  static_cast<Connection*>(parser->data)->complete_ = true;
  return HPE_PAUSED;  // stop at the end of this response: one request in flight at a time
}

bool Connection::finishConnect() {
  int error = 0;
  socklen_t len = sizeof(error);
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
    fail(OutcomeKind::kConnect);
    return false;
  }
  connected_ = true;
  return true;
}

void Connection::flush() {
  while (written_ < pending_.size()) {
    const ssize_t n =
        ::send(fd_, pending_.data() + written_, pending_.size() - written_, MSG_NOSIGNAL);
    if (n > 0) {
      written_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!writeArmed_) event_add(writeEvent_.get(), nullptr);
      writeArmed_ = true;
      return;
    }
    fail(OutcomeKind::kReset);
    return;
  }
  if (writeArmed_) event_del(writeEvent_.get());
  writeArmed_ = false;
}

void Connection::readAvailable() {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) {
      handleEof();
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail(OutcomeKind::kReset);
      return;
    }
    if (request_ == kNoRequest) {  // bytes nobody asked for (e.g. a 408 on an idle connection)
      fail(OutcomeKind::kProtocol);
      return;
    }
    complete_ = false;
    const llhttp_errno_t err = llhttp_execute(&parser_, buffer, static_cast<size_t>(n));
    if (complete_) {
      const int status = parser_.status_code;
      const bool keepAlive = llhttp_should_keep_alive(&parser_) != 0;
      llhttp_resume(&parser_);
      callbacks_.onResponse(*this, status, keepAlive);
      return;  // the owner may have closed or reused this connection
    }
    if (err != HPE_OK) {
      fail(OutcomeKind::kProtocol);
      return;
    }
    if (static_cast<size_t>(n) < sizeof(buffer)) return;  // drained; wait for more
  }
}

void Connection::handleEof() {
  if (request_ == kNoRequest) {  // the server closed an idle keep-alive connection
    fail(OutcomeKind::kReset);
    return;
  }
  complete_ = false;
  llhttp_finish(&parser_);  // completes a response delimited by the close
  if (complete_) {
    const int status = parser_.status_code;
    close();
    callbacks_.onResponse(*this, status, false);
    return;
  }
  fail(OutcomeKind::kReset);
}

void Connection::fail(OutcomeKind kind) {
  close();
  callbacks_.onFailure(*this, kind);
}

}  // namespace rampart::loadgen
