#pragma once
// A non-blocking stream socket with input/output buffers (a libevent
// bufferevent), plain or, later, TLS. Owners get events through
// ConnectionCallbacks; the connection never calls back after close().

#include <memory>

#include "proxy/event/address.h"
#include "proxy/event/buffer.h"
#include "proxy/event/dispatcher.h"

struct bufferevent;

namespace rampart::event {

// Why a connection stopped being usable.
enum class CloseReason {
  LocalClose,     // we closed it
  RemoteClose,    // the peer closed cleanly (EOF)
  Error,          // a socket error (reset, refused, ...)
  ConnectFailed,  // an outgoing connect did not complete
};

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are waiting in input().
  virtual void onRead() = 0;
  // The output buffer drained below the low watermark (0 unless set).
  virtual void onWriteDrained() = 0;
  // An outgoing connect completed.
  virtual void onConnected() {}
  // The socket is finished (EOF, error, failed connect). The owner decides when to destroy.
  virtual void onClose(CloseReason reason) = 0;
};

struct BuffereventDeleter {
  void operator()(bufferevent* bev) const;
};

class BufferedConnection {
 public:
  // Takes ownership of an accepted, non-blocking socket.
  static std::unique_ptr<BufferedConnection> adopt(Dispatcher& dispatcher, int fd);
  // Starts a non-blocking connect; onConnected() or onClose(ConnectFailed) follows.
  static std::unique_ptr<BufferedConnection> connect(Dispatcher& dispatcher,
                                                     const SocketAddress& address);
  ~BufferedConnection();
  BufferedConnection(const BufferedConnection&) = delete;
  BufferedConnection& operator=(const BufferedConnection&) = delete;

  // Sets who receives events; may be changed (pool hand-over) or cleared.
  void setCallbacks(ConnectionCallbacks* callbacks) { callbacks_ = callbacks; }
  // The bytes received and not yet consumed.
  Buffer& input() { return input_; }
  // Queues bytes for sending.
  void write(std::string_view data) { output_.add(data); }
  // Moves `data` into the send queue (no copy).
  void write(Buffer& data) { output_.moveFrom(data); }
  // Bytes queued and not yet sent.
  size_t pendingOutput() const { return output_.length(); }
  // Starts or stops reading from the socket (backpressure).
  void enableRead(bool enable);
  bool readEnabled() const { return read_enabled_; }
  // onWriteDrained() fires when pending output falls to or below this many bytes.
  void setWriteLowWatermark(size_t bytes);
  // Reading pauses while input() holds this many bytes (0 = unlimited).
  void setReadHighWatermark(size_t bytes);
  // Closes the socket at once; queued output is discarded. No callbacks follow.
  void close();
  // Makes the eventual close send a TCP reset instead of FIN (aborting a stream).
  // The socket itself is released by close() or destruction.
  void abort();
  // Sends FIN after queued output (half-close); reading continues.
  void shutdownWrite();
  bool closed() const { return !bev_; }
  // The peer's address (accepted sockets) or the target (outgoing).
  const SocketAddress& peer() const { return peer_; }
  void setPeer(const SocketAddress& peer) { peer_ = peer; }
  // Disables Nagle; proxies send whole messages.
  void setNoDelay();

 private:
  explicit BufferedConnection(bufferevent* bev);
  static void onReadCb(bufferevent*, void* arg);
  static void onWriteCb(bufferevent*, void* arg);
  static void onEventCb(bufferevent*, short events, void* arg);

  std::unique_ptr<bufferevent, BuffereventDeleter> bev_;
  Buffer input_;
  Buffer output_;
  ConnectionCallbacks* callbacks_ = nullptr;
  SocketAddress peer_;
  bool read_enabled_ = true;
};

}  // namespace rampart::event
