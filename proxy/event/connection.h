#pragma once
// A non-blocking stream socket with input/output buffers. Owners get events
// through ConnectionCallbacks; the connection never calls back after close().
// Writes are queued and flushed once per loop iteration (one writev for all
// the pieces written during a callback), and the socket only subscribes to
// writability when the kernel refuses bytes, so a steady request/response flow
// costs no epoll_ctl calls. With TLS (adoptTls/connectTls) the socket I/O is the
// same on ciphertext buffers, and a tls::TlsTransport sits between them and the
// plaintext input()/write() the owner uses.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/event/address.h"
#include "proxy/event/buffer.h"
#include "proxy/event/dispatcher.h"

namespace rampart::tls {
class TlsContext;
class TlsTransport;
}  // namespace rampart::tls

namespace rampart::event {

// Why a connection stopped being usable.
enum class CloseReason {
  LocalClose,          // we closed it
  RemoteClose,         // the peer closed cleanly (EOF); queued output may still be sent
  Error,               // a socket error (reset, ...)
  ConnectFailed,       // an outgoing connect did not complete
  TlsHandshakeFailed,  // TLS: the handshake failed (bad or missing certificate, no common
                       // protocol, plaintext on a TLS port); tlsError() says why
};

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are waiting in input().
  virtual void onRead() = 0;
  // A flush left the output at or below the low watermark (0 unless set).
  virtual void onWriteDrained() = 0;
  // An outgoing connect completed (TLS: after the handshake).
  virtual void onConnected() {}
  // The socket is finished (EOF, error, failed connect). The owner decides when to destroy.
  virtual void onClose(CloseReason reason) = 0;
};

class BufferedConnection : public Flushable {
 public:
  // Takes ownership of an accepted, non-blocking socket.
  static std::unique_ptr<BufferedConnection> adopt(Dispatcher& dispatcher, int fd);
  // Starts a non-blocking connect; onConnected() or onClose(ConnectFailed) follows.
  static std::unique_ptr<BufferedConnection> connect(Dispatcher& dispatcher,
                                                     const SocketAddress& address);
  // Takes ownership of an accepted socket and serves TLS on it with `context` (a
  // server context). input()/write() carry plaintext; a failed handshake ends in
  // onClose(TlsHandshakeFailed).
  static std::unique_ptr<BufferedConnection> adoptTls(Dispatcher& dispatcher, int fd,
                                                      std::shared_ptr<tls::TlsContext> context);
  // Connects and runs a TLS handshake with `context` (a client context), verifying
  // `server_name` (empty: the context's SNI, else the address's IP); onConnected()
  // follows the handshake. Writes before that are queued.
  static std::unique_ptr<BufferedConnection> connectTls(Dispatcher& dispatcher,
                                                        const SocketAddress& address,
                                                        std::shared_ptr<tls::TlsContext> context,
                                                        std::string_view server_name = {});
  ~BufferedConnection() override;
  BufferedConnection(const BufferedConnection&) = delete;
  BufferedConnection& operator=(const BufferedConnection&) = delete;

  // Sets who receives events; may be changed (pool hand-over) or cleared.
  void setCallbacks(ConnectionCallbacks* callbacks) { callbacks_ = callbacks; }
  // The bytes received and not yet consumed.
  Buffer& input() { return input_; }
  // Queues bytes for sending.
  void write(std::string_view data);
  // Moves `data` into the send queue (no copy).
  void write(Buffer& data);
  // Bytes queued and not yet sent (TLS: plaintext plus ciphertext).
  size_t pendingOutput() const;
  // Starts or stops reading from the socket (backpressure).
  void enableRead(bool enable);
  bool readEnabled() const { return read_enabled_; }
  // onWriteDrained() fires when a flush leaves at most this many bytes queued.
  void setWriteLowWatermark(size_t bytes) { write_low_watermark_ = bytes; }
  // Reading pauses while input() holds at least this many bytes (0 = unlimited).
  void setReadHighWatermark(size_t bytes) { read_high_watermark_ = bytes; }
  // Resumes reading after the owner consumed input outside onRead() (watermark).
  void onInputConsumed() { updateReadInterest(); }
  // Closes the socket at once; queued output is discarded. No callbacks follow.
  void close();
  // Makes the eventual close send a TCP reset instead of FIN (aborting a stream).
  void abort();
  // Sends FIN once queued output is flushed (half-close; TLS: close_notify first);
  // reading continues.
  void shutdownWrite();
  bool closed() const { return fd_ < 0; }
  // The peer's address (accepted sockets) or the target (outgoing).
  const SocketAddress& peer() const { return peer_; }
  void setPeer(const SocketAddress& peer) { peer_ = peer; }

  // TLS state. Plaintext connections: not TLS, handshake complete, no ALPN or identity.
  bool isTls() const { return tls_ != nullptr; }
  bool handshakeComplete() const;
  // The negotiated ALPN protocol ("h2", "http/1.1"), empty when none.
  std::string_view alpn() const;
  // The verified peer certificate's URI SAN (SPIFFE ID) or subject; see tls::peerIdentity.
  std::optional<std::string> peerIdentity() const;
  // True when the TLS handshake resumed an earlier session.
  bool tlsSessionReused() const;
  // Why the TLS handshake or session failed, for logs.
  std::string_view tlsError() const;

  // Flushable: writes queued output (called by the dispatcher after the current callback).
  void flush() override;

 private:
  BufferedConnection(Dispatcher& dispatcher, int fd, bool connecting);
  static void onReadableCb(int fd, short, void* arg);
  static void onWritableCb(int fd, short, void* arg);
  void onReadable();
  void onWritable();
  void updateReadInterest();
  void scheduleFlush();
  void fail(CloseReason reason);
  // TLS: decrypts what was read and reports it; false when the connection ended.
  bool processTlsInput();
  // TLS: encrypts queued plaintext (and close_notify) into the wire buffer.
  bool encryptOutput();
  // The buffer the socket reads into / writes from (ciphertext under TLS).
  Buffer& wireIn();
  Buffer& wireOut();

  Dispatcher& dispatcher_;
  int fd_;
  EventPtr read_event_;
  EventPtr write_event_;
  Buffer input_;                            // plaintext for the owner
  Buffer output_;                           // plaintext from the owner
  std::unique_ptr<tls::TlsTransport> tls_;  // null for plaintext
  ConnectionCallbacks* callbacks_ = nullptr;
  SocketAddress peer_;
  size_t write_low_watermark_ = 0;
  size_t read_high_watermark_ = 0;
  bool connecting_;
  bool read_enabled_ = true;  // the owner wants bytes
  bool read_armed_ = false;   // the read event is registered
  bool write_armed_ = false;  // waiting for the kernel to accept more bytes
  bool flush_scheduled_ = false;
  bool peer_eof_ = false;
  bool shutdown_pending_ = false;
  bool connect_error_now_ = false;  // connect() failed synchronously
  bool tls_client_ = false;         // TLS: we started the handshake (onConnected after it)
};

}  // namespace rampart::event
