#pragma once
// One TLS session over a pair of ciphertext buffers. The connection reads the
// socket into wireIn() and writes wireOut() to it exactly as it does for
// plaintext (one readv, one writev per loop pass, no epoll_ctl while traffic
// flows); this class sits between those buffers and the plaintext the owner
// sees. OpenSSL reads and writes the buffers through a small custom BIO, so
// no socket calls happen inside OpenSSL.

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/event/buffer.h"
#include "proxy/tls/tls_context.h"

namespace rampart::tls {

class TlsTransport {
 public:
  // What feeding ciphertext led to.
  enum class Status {
    Ok,               // progress, or waiting for more bytes
    Closed,           // the peer closed the session (close_notify, or EOF)
    HandshakeFailed,  // the handshake (or the peer's verdict on it) failed; see error()
    Failed,           // a TLS error after the handshake; see error()
  };

  // A server-side session. Throws std::bad_alloc when OpenSSL cannot allocate.
  static std::unique_ptr<TlsTransport> server(std::shared_ptr<TlsContext> context);
  // A client-side session verifying `server_name` (host name or IP literal) and
  // resuming the session cached under `session_key`. Throws std::bad_alloc likewise.
  static std::unique_ptr<TlsTransport> client(std::shared_ptr<TlsContext> context,
                                              std::string_view server_name,
                                              std::string session_key);
  ~TlsTransport();
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // Ciphertext received from the socket, not yet processed.
  event::Buffer& wireIn() { return wire_in_; }
  // Ciphertext to write to the socket.
  event::Buffer& wireOut() { return wire_out_; }
  const event::Buffer& wireOut() const { return wire_out_; }

  // Client: queues the ClientHello in wireOut().
  Status startHandshake();
  // Runs the handshake and decrypts wireIn() into `plain`. Sets `handshake_done` when
  // the handshake completed during this call. wireOut() may have grown (handshake
  // records, tickets, alerts): the caller flushes it.
  Status onWireInput(event::Buffer& plain, bool& handshake_done);
  // Encrypts all of `plain` into wireOut(); only after the handshake. False on error.
  bool encrypt(event::Buffer& plain);
  // Queues close_notify in wireOut() (once; after the handshake).
  void shutdown();
  // The socket reached EOF: the BIO reports end of input once wireIn() is empty.
  void setEof() { eof_ = true; }

  bool handshakeComplete() const { return handshake_done_; }
  // The negotiated ALPN protocol ("h2", "http/1.1"), empty when none.
  std::string_view alpn() const { return alpn_; }
  // See tls::peerIdentity().
  std::optional<std::string> peerIdentity() const { return tls::peerIdentity(ssl_.get()); }
  // True when the handshake resumed an earlier session.
  bool sessionReused() const;
  // Why the handshake or session failed ("certificate verify failed: hostname mismatch").
  const std::string& error() const { return error_; }

 private:
  TlsTransport(std::shared_ptr<TlsContext> context, SslPtr ssl, std::string session_key);
  static int bioWrite(BIO* bio, const char* data, int len);
  static int bioRead(BIO* bio, char* out, int len);
  static long bioCtrl(BIO* bio, int cmd, long num, void* ptr);
  static BIO_METHOD* bioMethod();
  // Advances the handshake; sets handshake_done_ / error_.
  Status handshake();
  // Builds error_ from the OpenSSL error queue and the verification result.
  void describeError(int ssl_error);

  std::shared_ptr<TlsContext> context_;  // keeps SSL_CTX, ALPN list and session cache alive
  std::string session_key_;              // read by the new-session callback via app data
  event::Buffer wire_in_;
  event::Buffer wire_out_;
  SslPtr ssl_;  // declared last: freed before the buffers and key it points to
  std::string alpn_;
  std::string error_;
  bool handshake_done_ = false;
  bool received_data_ = false;  // an application byte arrived
  bool shutdown_sent_ = false;
  bool eof_ = false;
};

}  // namespace rampart::tls
