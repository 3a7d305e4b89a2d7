#pragma once
// Owns a new downstream socket until its protocol is known, then hands it to
// the right connection class: HTTP/2 when TLS negotiated "h2" by ALPN, or when
// a plaintext client opens with the HTTP/2 preface (h2c prior knowledge);
// HTTP/1.1 otherwise. The bytes read meanwhile stay in the socket's input.

#include <memory>

#include "proxy/downstream/downstream_connection.h"
#include "proxy/event/connection.h"
#include "proxy/server/worker_context.h"

namespace rampart::downstream {

class ProtocolSniffer final : public DownstreamConnection, public event::ConnectionCallbacks {
 public:
  ProtocolSniffer(server::WorkerContext& context, ConnectionOwner& owner, size_t listener,
                  std::unique_ptr<event::BufferedConnection> socket);
  ~ProtocolSniffer() override;

  void drain() override;
  size_t listener() const override { return listener_; }

  void onRead() override;
  void onWriteDrained() override {}
  void onConnected() override {}
  void onClose(event::CloseReason reason) override;

 private:
  void handOver(bool http2);
  void close();

  server::WorkerContext& context_;
  ConnectionOwner& owner_;
  size_t listener_;
  std::unique_ptr<event::BufferedConnection> socket_;
  event::Timer timeout_;
  bool done_ = false;
};

}  // namespace rampart::downstream
