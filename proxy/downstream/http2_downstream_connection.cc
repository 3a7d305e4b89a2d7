#include "proxy/downstream/http2_downstream_connection.h"

#include "proxy/common/log.h"

namespace rampart::downstream {

namespace {
// Encoded output queued at most on the socket before the codec is asked for more.
constexpr size_t kSocketHighWatermark = 256 * 1024;
// How often streams are checked for a peer that stopped opening its window.
constexpr auto kStallCheck = std::chrono::seconds(5);
// Between the drain's shutdown notice and the final GOAWAY: time for streams the
// client opened before it saw the notice to arrive (RFC 9113 6.8 suggests one RTT;
// on a sidecar's loopback that is far below this).
constexpr auto kDrainNoticeGrace = std::chrono::milliseconds(500);
}  // namespace

// One request stream: the ActiveRequest's downstream side.
class Http2DownstreamConnection::Stream final : public router::DownstreamEncoder,
                                                public event::Deletable {
 public:
  Stream(Http2DownstreamConnection& connection, int32_t id)
      : connection_(connection),
        id_(id),
        request_(std::make_unique<router::ActiveRequest>(connection.context_, *this,
                                                         connection.listener_)) {}

  router::ActiveRequest& request() { return *request_; }
  int32_t id() const { return id_; }

  // Request DATA arrived: acknowledge it now unless the request is pausing the client.
  void received(size_t bytes) {
    if (read_disabled_) {
      unconsumed_ += bytes;
    } else {
      connection_.codec_.consume(id_, bytes);
    }
  }

  void encodeHeaders(http::ResponseHead& head, bool end_stream) override {
    connection_.codec_.submitResponse(id_, head, end_stream);
    connection_.flush();
  }
  void encodeData(event::Buffer& data, bool end_stream) override {
    bool submitted = false;
    data.forEachChunk([&](std::string_view chunk) {
      submitted = true;
      connection_.codec_.submitData(id_, chunk, false);
      return true;
    });
    data.drain(data.length());
    if (end_stream || !submitted) connection_.codec_.submitData(id_, {}, end_stream);
    if (!end_stream && !connection_.codec_.streamWritable(id_) && !write_blocked_) {
      write_blocked_ = true;
      request_->onDownstreamWriteBlocked(true);
    }
    connection_.flush();
  }
  void encodeTrailers(http::HeaderMap& trailers) override {
    connection_.codec_.submitTrailers(id_, trailers);
    connection_.flush();
  }
  void encode100Continue() override {
    connection_.codec_.submitContinue(id_);
    connection_.flush();
  }
  void readDisable(bool disable) override {
    read_disabled_ = disable;
    if (!disable && unconsumed_ > 0) {
      connection_.codec_.consume(id_, unconsumed_);
      unconsumed_ = 0;
      connection_.flush();
    }
  }
  void resetStream() override {
    connection_.codec_.resetStream(id_, NGHTTP2_INTERNAL_ERROR);
    connection_.flush();
  }
  const event::SocketAddress& peer() const override { return connection_.socket_->peer(); }
  std::string_view peerHost() const override { return connection_.peer_host_; }
  std::string_view peerIdentity() const override { return connection_.peer_identity_; }
  std::string_view identityHeader() const override {
    return connection_.context_.config->listeners[connection_.listener_].tls.identity_header;
  }
  std::string_view protocol() const override { return "h2"; }

  void onWritable() {
    if (write_blocked_) {
      write_blocked_ = false;
      request_->onDownstreamWriteBlocked(false);
    }
  }

 private:
  Http2DownstreamConnection& connection_;
  int32_t id_;
  std::unique_ptr<router::ActiveRequest> request_;
  bool read_disabled_ = false;
  bool write_blocked_ = false;
  size_t unconsumed_ = 0;
};

Http2DownstreamConnection::Http2DownstreamConnection(
    server::WorkerContext& context, ConnectionOwner& owner, size_t listener,
    std::unique_ptr<event::BufferedConnection> socket, const http::Http2Limits& limits)
    : context_(context),
      owner_(owner),
      listener_(listener),
      stats_(context.stats.listeners[listener]),
      socket_(std::move(socket)),
      codec_(http::Http2Codec::Mode::Server, *this, limits, context.dispatcher),
      idle_timer_(context.dispatcher, [this] { onIdleTimeout(); }),
      stall_timer_(context.dispatcher,
                   [this] {
                     codec_.resetStalledStreams(context_.config->limits.idle_timeout);
                     flush();
                     stall_timer_.enable(kStallCheck);
                   }),
      final_goaway_timer_(context.dispatcher, [this] { sendFinalGoaway(); }) {
  socket_->setCallbacks(this);
  peer_host_ = socket_->peer().hostString();
  if (auto identity = socket_->peerIdentity()) peer_identity_ = *identity;
  stats_.downstream_http2_connections_total.inc();
  stall_timer_.enable(kStallCheck);
  idle_timer_.enable(context.config->limits.idle_timeout);
  if (context.draining) drain();
  // The sniffer may have left the preface (and more) in the input buffer.
  if (!socket_->input().empty()) onRead();
  flush();
}

Http2DownstreamConnection::~Http2DownstreamConnection() = default;

void Http2DownstreamConnection::onRead() {
  event::Buffer& input = socket_->input();
  if (input.length() > input_seen_)
    stats_.downstream_bytes_received_total.inc(input.length() - input_seen_);
  bool failed = false;
  input.forEachChunk([&](std::string_view chunk) {
    failed = codec_.receive(chunk) < 0 || closed_;
    return !failed;
  });
  if (closed_) return;
  input.drain(input.length());
  input_seen_ = 0;
  flush();
  if (failed || codec_.failed()) closeWhenFlushed();
}

void Http2DownstreamConnection::flush() {
  if (closed_) return;
  const size_t pending = socket_->pendingOutput();
  if (pending >= kSocketHighWatermark) return;  // onWriteDrained() asks again
  scratch_.clear();
  codec_.produce(scratch_, kSocketHighWatermark - pending);
  if (!scratch_.empty()) {
    stats_.downstream_bytes_sent_total.inc(scratch_.size());
    socket_->write(scratch_);
  }
  if (codec_.failed() && !closing_) closeWhenFlushed();
}

void Http2DownstreamConnection::onWriteDrained() {
  flush();
  if (closing_ && socket_->pendingOutput() == 0 && !codec_.wantsWrite()) close();
}

void Http2DownstreamConnection::onClose(event::CloseReason reason) {
  if (reason == event::CloseReason::TlsHandshakeFailed)
    stats_.downstream_tls_handshake_failures_total.inc();
  close();
}

void Http2DownstreamConnection::onRequestHeaders(int32_t id, http::RequestHead& head,
                                                 bool end_stream) {
  idle_timer_.disable();
  stats_.downstream_http2_requests_total.inc();
  auto stream = std::make_unique<Stream>(*this, id);
  Stream& ref = *stream;
  streams_[id] = std::move(stream);
  ref.request().decodeHeaders(std::move(head), end_stream);
}

void Http2DownstreamConnection::onData(int32_t id, std::string_view data, bool end_stream) {
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    codec_.consume(id, data.size());
    return;
  }
  Stream& stream = *it->second;
  stream.request().decodeData(data, end_stream);
  stream.received(data.size());
}

void Http2DownstreamConnection::onTrailers(int32_t id, http::HeaderMap&) {
  // Request trailers end the body; Rampart does not forward them.
  auto it = streams_.find(id);
  if (it != streams_.end()) it->second->request().decodeData({}, true);
}

void Http2DownstreamConnection::onStreamClosed(int32_t id, uint32_t) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> stream = std::move(it->second);
  streams_.erase(it);
  if (!stream->request().responseComplete()) stream->request().onDownstreamReset();
  context_.dispatcher.deferredDelete(std::move(stream));
  if (streams_.empty()) {
    if (draining_) maybeFinishDrain();
    idle_timer_.enable(context_.config->limits.idle_timeout);
  }
}

void Http2DownstreamConnection::onProtocolError(http::Http2ProtocolError kind) {
  stats_.downstream_http2_protocol_errors_total.inc();
  log::warn("http2 protocol error", {{"kind", http::protocolErrorName(kind)},
                                     {"peer", socket_->peer().toString()},
                                     {"listener", context_.config->listeners[listener_].name}});
  // Reported from inside receive() or produce(): flush(), which follows both, writes
  // the GOAWAY and closes. Closing from here would nest a flush inside one.
}

void Http2DownstreamConnection::onStreamWritable(int32_t id) {
  auto it = streams_.find(id);
  if (it != streams_.end()) it->second->onWritable();
}

void Http2DownstreamConnection::onRequestRejected(int32_t, int status) {
  if (status == 431) stats_.downstream_headers_too_large_total.inc();
}

void Http2DownstreamConnection::drain() {
  if (draining_ || closed_) return;
  draining_ = true;
  // Two-phase, as RFC 9113 6.8 describes: GOAWAY(2^31-1) first so the client
  // stops opening streams without losing any already on the wire, then the real
  // last stream id. Streams in flight finish; the connection closes when they have.
  codec_.submitGoaway(NGHTTP2_NO_ERROR, true);
  flush();
  final_goaway_timer_.enable(kDrainNoticeGrace);
  maybeFinishDrain();
}

void Http2DownstreamConnection::sendFinalGoaway() {
  if (closed_ || final_goaway_sent_) return;
  final_goaway_sent_ = true;
  codec_.submitGoaway(NGHTTP2_NO_ERROR, false);
  flush();
}

void Http2DownstreamConnection::maybeFinishDrain() {
  if (!streams_.empty()) return;
  final_goaway_timer_.disable();
  sendFinalGoaway();
  closeWhenFlushed();
}

void Http2DownstreamConnection::onIdleTimeout() {
  if (!streams_.empty()) return;
  codec_.submitGoaway(NGHTTP2_NO_ERROR, false);
  flush();
  closeWhenFlushed();
}

void Http2DownstreamConnection::closeWhenFlushed() {
  if (closed_) return;
  closing_ = true;
  socket_->enableRead(false);
  flush();
  if (socket_->pendingOutput() == 0) close();
}

void Http2DownstreamConnection::close() {
  if (closed_) return;
  closed_ = true;
  idle_timer_.disable();
  stall_timer_.disable();
  final_goaway_timer_.disable();
  for (auto& [id, stream] : streams_) {
    if (!stream->request().responseComplete()) stream->request().onDownstreamReset();
    context_.dispatcher.deferredDelete(std::move(stream));
  }
  streams_.clear();
  socket_->setCallbacks(nullptr);
  socket_->enableRead(false);
  owner_.onConnectionDone(*this);
}

}  // namespace rampart::downstream
