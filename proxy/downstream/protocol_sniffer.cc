#include "proxy/downstream/protocol_sniffer.h"

#include "proxy/downstream/http1_downstream_connection.h"
#include "proxy/downstream/http2_downstream_connection.h"
#include "proxy/http/http2_codec.h"

namespace rampart::downstream {

ProtocolSniffer::ProtocolSniffer(server::WorkerContext& context, ConnectionOwner& owner,
                                 size_t listener, std::unique_ptr<event::BufferedConnection> socket)
    : context_(context),
      owner_(owner),
      listener_(listener),
      socket_(std::move(socket)),
      timeout_(context.dispatcher, [this] { close(); }) {
  socket_->setCallbacks(this);
  // A client that neither finishes a handshake nor sends a byte is dropped like a slow head.
  timeout_.enable(context.config->limits.header_timeout);
}

ProtocolSniffer::~ProtocolSniffer() = default;

void ProtocolSniffer::drain() {
  close();
}

void ProtocolSniffer::onRead() {
  if (done_) return;
  if (socket_->isTls() && socket_->handshakeComplete()) {
    auto& stats = context_.stats.listeners[listener_];
    stats.downstream_tls_handshakes_total.inc();
    if (socket_->alpn() == "h2") {
      handOver(true);
      return;
    }
  }
  std::string head;
  socket_->input().forEachChunk([&](std::string_view chunk) {
    head.append(chunk.substr(0, 24 - std::min<size_t>(24, head.size())));
    return head.size() < 24;
  });
  switch (http::Http2Codec::looksLikeH2Preface(head)) {
    case http::PrefaceMatch::NeedMore:
      return;
    case http::PrefaceMatch::Http2:
      handOver(true);
      return;
    case http::PrefaceMatch::NotHttp2:
      handOver(false);
      return;
  }
}

void ProtocolSniffer::onClose(event::CloseReason reason) {
  if (reason == event::CloseReason::TlsHandshakeFailed) {
    context_.stats.listeners[listener_].downstream_tls_handshake_failures_total.inc();
  }
  close();
}

void ProtocolSniffer::handOver(bool http2) {
  done_ = true;
  timeout_.disable();
  socket_->setCallbacks(nullptr);
  std::unique_ptr<DownstreamConnection> next;
  if (http2) {
    next =
        std::make_unique<Http2DownstreamConnection>(context_, owner_, listener_, std::move(socket_),
                                                    context_.config->listeners[listener_].http2);
  } else {
    next = std::make_unique<Http1DownstreamConnection>(context_, owner_, listener_,
                                                       std::move(socket_));
  }
  owner_.replaceConnection(*this, std::move(next));
}

void ProtocolSniffer::close() {
  if (done_) return;
  done_ = true;
  timeout_.disable();
  socket_->setCallbacks(nullptr);
  socket_->enableRead(false);
  owner_.onConnectionDone(*this);
}

}  // namespace rampart::downstream
