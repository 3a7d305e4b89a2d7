#pragma once
// A non-blocking stream socket with input/output buffers. Owners get events
// through ConnectionCallbacks; the connection never calls back after close().
// Writes are queued and flushed once per loop iteration (one writev for all
// the pieces written during a callback), and the socket only subscribes to
// writability when the kernel refuses bytes, so a steady request/response flow
// costs no epoll_ctl calls.

#include <memory>

#include "proxy/event/address.h"
#include "proxy/event/buffer.h"
#include "proxy/event/dispatcher.h"

namespace rampart::event {

// Why a connection stopped being usable.
enum class CloseReason {
  LocalClose,     // we closed it
  RemoteClose,    // the peer closed cleanly (EOF); queued output may still be sent
  Error,          // a socket error (reset, ...)
  ConnectFailed,  // an outgoing connect did not complete
};

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are waiting in input().
  virtual void onRead() = 0;
  // A flush left the output at or below the low watermark (0 unless set).
  virtual void onWriteDrained() = 0;
  // An outgoing connect completed.
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
  // Bytes queued and not yet sent.
  size_t pendingOutput() const { return output_.length(); }
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
  // Sends FIN once queued output is flushed (half-close); reading continues.
  void shutdownWrite();
  bool closed() const { return fd_ < 0; }
  // The peer's address (accepted sockets) or the target (outgoing).
  const SocketAddress& peer() const { return peer_; }
  void setPeer(const SocketAddress& peer) { peer_ = peer; }

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

  Dispatcher& dispatcher_;
  int fd_;
  EventPtr read_event_;
  EventPtr write_event_;
  Buffer input_;
  Buffer output_;
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
};

}  // namespace rampart::event
