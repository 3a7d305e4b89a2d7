#pragma once
// One client HTTP/1.1 connection of the load generator: a non-blocking TCP
// socket, its libevent read and write events, and an llhttp response parser.
// At most one request is in flight on a connection (no pipelining): the
// generator opens another connection instead, so a slow response never
// delays a later request — that is what keeps the load open-loop.

#include <event2/event.h>
#include <llhttp.h>
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "bench/loadgen/run_stats.h"

namespace rampart::loadgen {

class Connection;

// Frees (and so un-schedules) one libevent event.
struct EventDeleter {
  void operator()(event* ev) const { event_free(ev); }
};
using EventPtr = std::unique_ptr<event, EventDeleter>;

// What a connection reports to its owner. The owner may close() or send() on
// the connection from inside either callback; the connection does nothing
// after a callback returns.
class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // The request in flight got a complete response; keepAlive: the connection may carry another.
  virtual void onResponse(Connection& connection, int status, bool keepAlive) = 0;
  // The connection failed or the peer closed it (with or without a request in flight); it is
  // closed.
  virtual void onFailure(Connection& connection, OutcomeKind kind) = 0;
};

class Connection {
 public:
  // No request in flight.
  static constexpr uint64_t kNoRequest = UINT64_MAX;

  // A closed connection; headRequests: responses carry no body (HEAD).
  Connection(event_base* base, ConnectionCallbacks& callbacks, bool headRequests);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts a non-blocking connect; false when it failed at once (the connection stays closed).
  bool open(const sockaddr_in& address);

  // Writes one request now or as soon as the socket allows; wire must outlive the response.
  void send(std::string_view wire);

  // Closes the socket and removes its events; idempotent, no callback.
  void close();

  // The owner's id of the request in flight, or kNoRequest.
  uint64_t request() const { return request_; }

  // Sets the owner's id of the request in flight (kNoRequest when none).
  void setRequest(uint64_t id) { request_ = id; }

  // The owner's index for this connection (for O(1) removal from its list).
  size_t slot() const { return slot_; }

  // Sets the owner's index for this connection.
  void setSlot(size_t slot) { slot_ = slot; }

 private:
  static void onReadable(evutil_socket_t fd, short what, void* arg);
  static void onWritable(evutil_socket_t fd, short what, void* arg);
  static int onHeadersComplete(llhttp_t* parser);
  static int onMessageComplete(llhttp_t* parser);

  bool finishConnect();
  void flush();
  void readAvailable();
  void handleEof();
  void fail(OutcomeKind kind);

  event_base* base_;
  ConnectionCallbacks& callbacks_;
  bool headRequests_;
  int fd_ = -1;
  bool connected_ = false;
  bool writeArmed_ = false;
  bool complete_ = false;  // set by the parser callback when a response ends
  EventPtr readEvent_;
  EventPtr writeEvent_;
  llhttp_t parser_{};
  std::string_view pending_;  // the request being written
  size_t written_ = 0;
  uint64_t request_ = kNoRequest;
  size_t slot_ = 0;
};

}  // namespace rampart::loadgen
