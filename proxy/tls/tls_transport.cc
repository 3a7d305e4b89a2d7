#include "proxy/tls/tls_transport.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace rampart::tls {

namespace {
// One TLS record's worth of plaintext per SSL_write / SSL_read.
constexpr size_t kRecord = 16 * 1024;
}  // namespace

// ---- the BIO over wire_in_ / wire_out_ --------------------------------------------

int TlsTransport::bioWrite(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  static_cast<TlsTransport*>(BIO_get_data(bio))->wire_out_.add(data, static_cast<size_t>(len));
  return len;
}

int TlsTransport::bioRead(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  auto* self = static_cast<TlsTransport*>(BIO_get_data(bio));
  if (self->wire_in_.empty()) {
    if (self->eof_) return 0;  // end of input: OpenSSL sees the peer's EOF
    BIO_set_retry_read(bio);
    return -1;
  }
  size_t copied = 0;
  const size_t want = static_cast<size_t>(std::max(len, 0));
  self->wire_in_.forEachChunk([&](std::string_view chunk) {
    const size_t n = std::min(chunk.size(), want - copied);
    std::memcpy(out + copied, chunk.data(), n);
    copied += n;
    return copied < want;
  });
  self->wire_in_.drain(copied);
  return static_cast<int>(copied);
}

long TlsTransport::bioCtrl(BIO* bio, int cmd, long, void*) {
  auto* self = static_cast<TlsTransport*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // the connection flushes wire_out_ itself
    case BIO_CTRL_PENDING:
      return static_cast<long>(self->wire_in_.length());
    case BIO_CTRL_WPENDING:
      return 0;
    case BIO_CTRL_EOF:
      return self->eof_ && self->wire_in_.empty() ? 1 : 0;
    default:
      return 0;
  }
}

BIO_METHOD* TlsTransport::bioMethod() {
  // Created once per process (thread-safe static init) and never freed.
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rampart-buffer");
    if (!m) return m;
    BIO_meth_set_write(m, &bioWrite);
    BIO_meth_set_read(m, &bioRead);
    BIO_meth_set_ctrl(m, &bioCtrl);
    BIO_meth_set_create(m, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

// ---- construction -------------------------------------------------------------------

TlsTransport::TlsTransport(std::shared_ptr<TlsContext> context, SslPtr ssl, std::string session_key)
    : context_(std::move(context)), session_key_(std::move(session_key)), ssl_(std::move(ssl)) {
  BIO_METHOD* method = bioMethod();
  BIO* bio = method ? BIO_new(method) : nullptr;
  if (!bio) throw std::bad_alloc();
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // the SSL owns the one reference
  // The client new-session callback files tickets under this key.
  SSL_set_app_data(ssl_.get(), &session_key_);
}

TlsTransport::~TlsTransport() = default;

std::unique_ptr<TlsTransport> TlsTransport::server(std::shared_ptr<TlsContext> context) {
  SslPtr ssl = context->newServerSsl();
  if (!ssl) throw std::bad_alloc();
  return std::unique_ptr<TlsTransport>(new TlsTransport(std::move(context), std::move(ssl), {}));
}

std::unique_ptr<TlsTransport> TlsTransport::client(std::shared_ptr<TlsContext> context,
                                                   std::string_view server_name,
                                                   std::string session_key) {
  SslPtr ssl = context->newClientSsl(server_name, session_key);
  if (!ssl) throw std::bad_alloc();
  return std::unique_ptr<TlsTransport>(
      new TlsTransport(std::move(context), std::move(ssl), std::move(session_key)));
}

// ---- handshake and data ----------------------------------------------------------------

TlsTransport::Status TlsTransport::startHandshake() {
  return handshake();
}

TlsTransport::Status TlsTransport::handshake() {
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    handshake_done_ = true;
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &proto, &len);
    if (proto) alpn_.assign(reinterpret_cast<const char*>(proto), len);
    return Status::Ok;
  }
  const int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Ok;
  describeError(err);
  return Status::HandshakeFailed;
}

TlsTransport::Status TlsTransport::onWireInput(event::Buffer& plain, bool& handshake_done) {
  handshake_done = false;
  if (!handshake_done_) {
    const Status status = handshake();
    if (status != Status::Ok) return status;
    if (!handshake_done_) return Status::Ok;
    handshake_done = true;
  }
  char buf[kRecord];
  for (;;) {
    ERR_clear_error();
    size_t n = 0;
    const int rc = SSL_read_ex(ssl_.get(), buf, sizeof buf, &n);
    if (rc == 1) {
      plain.add(buf, n);
      received_data_ = true;
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Ok;
    if (err == SSL_ERROR_ZERO_RETURN) return Status::Closed;
    describeError(err);
    // TLS 1.3 clients finish before the server judges their certificate: an alert
    // before any data is the handshake failing, not the session.
    return received_data_ ? Status::Failed : Status::HandshakeFailed;
  }
}

bool TlsTransport::encrypt(event::Buffer& plain) {
  if (!handshake_done_ || shutdown_sent_) return false;
  // Coalesce small pieces into full records: fewer records, less framing overhead.
  char record[kRecord];
  size_t fill = 0;
  bool ok = true;
  const auto write = [&](const char* data, size_t len) {
    ERR_clear_error();
    size_t written = 0;
    if (SSL_write_ex(ssl_.get(), data, len, &written) != 1 || written != len) {
      describeError(SSL_get_error(ssl_.get(), 0));
      ok = false;
    }
  };
  plain.forEachChunk([&](std::string_view chunk) {
    if (fill == 0 && chunk.size() >= kRecord) {
      write(chunk.data(), chunk.size());  // large chunks go straight through
      return ok;
    }
    while (!chunk.empty() && ok) {
      const size_t n = std::min(chunk.size(), sizeof record - fill);
      std::memcpy(record + fill, chunk.data(), n);
      fill += n;
      chunk.remove_prefix(n);
      if (fill == sizeof record) {
        write(record, fill);
        fill = 0;
      }
    }
    return ok;
  });
  if (ok && fill > 0) write(record, fill);
  plain.drain(plain.length());
  return ok;
}

void TlsTransport::shutdown() {
  if (!handshake_done_ || shutdown_sent_) return;
  shutdown_sent_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());  // writes close_notify into wire_out_; we do not wait for the reply
}

bool TlsTransport::sessionReused() const {
  return SSL_session_reused(ssl_.get()) == 1;
}

void TlsTransport::describeError(int ssl_error) {
  std::string reason = takeOpenSslError();
  if (reason.empty()) {
    reason = ssl_error == SSL_ERROR_SYSCALL ? "connection closed during the TLS handshake"
                                            : "TLS error " + std::to_string(ssl_error);
  }
  const long verify = SSL_get_verify_result(ssl_.get());
  if (verify != X509_V_OK) {
    reason += ": ";
    reason += X509_verify_cert_error_string(verify);
  }
  error_ = std::move(reason);
}

}  // namespace rampart::tls
