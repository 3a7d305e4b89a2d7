#pragma once
// What the worker needs from any downstream connection, whatever its protocol.

#include <cstddef>

#include "proxy/event/dispatcher.h"

namespace rampart::downstream {

class DownstreamConnection : public event::Deletable {
 public:
  // Drain: close now when idle, otherwise after in-flight requests (HTTP/2: GOAWAY).
  virtual void drain() = 0;
  // The listener it was accepted on.
  virtual size_t listener() const = 0;
};

// Who owns downstream connections (the worker).
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // The connection is finished; the owner destroys it after the current callback.
  virtual void onConnectionDone(DownstreamConnection& connection) = 0;
  // A protocol sniffer decided: `next` replaces `current` (same socket, buffered bytes kept).
  virtual void replaceConnection(DownstreamConnection& current,
                                 std::unique_ptr<DownstreamConnection> next) = 0;
};

}  // namespace rampart::downstream
