#include "proxy/upstream/http2_client_connection.h"

#include <algorithm>

#include "proxy/common/log.h"
#include "proxy/upstream/http2_pool.h"

namespace rampart::upstream {

namespace {
constexpr size_t kSocketHighWatermark = 256 * 1024;
}  // namespace

// One request on the connection, as the router's UpstreamStream.
class Http2UpstreamStream final : public UpstreamStream, public event::Deletable {
 public:
  Http2UpstreamStream(Http2ClientConnection& connection, UpstreamResponseHandler& handler)
      : connection_(connection), handler_(&handler) {}

  void encodeHeaders(const http::RequestHead& head, bool end_stream) override {
    id_ = connection_.codec_.submitRequest(head, end_stream);
    if (id_ < 0) {
      // The connection is draining: this request was never sent.
      fail(UpstreamFailure::Refused);
      return;
    }
    connection_.by_id_[id_] = this;
    connection_.stats_.upstream_bytes_sent_total.inc(head.headers.byteSize());
    connection_.flush();
  }
  void encodeData(event::Buffer& data, bool end_stream) override {
    if (id_ < 0 || !handler_) {
      data.drain(data.length());
      return;
    }
    bool submitted = false;
    data.forEachChunk([&](std::string_view chunk) {
      submitted = true;
      connection_.stats_.upstream_bytes_sent_total.inc(chunk.size());
      connection_.codec_.submitData(id_, chunk, false);
      return true;
    });
    data.drain(data.length());
    if (end_stream || !submitted) connection_.codec_.submitData(id_, {}, end_stream);
    if (!end_stream && !connection_.codec_.streamWritable(id_) && !write_blocked_) {
      write_blocked_ = true;
      handler_->onUpstreamWriteBlocked(true);
    }
    connection_.flush();
  }
  void reset() override {
    handler_ = nullptr;
    if (id_ >= 0) {
      connection_.codec_.resetStream(id_, NGHTTP2_CANCEL);
      connection_.flush();
    } else {
      connection_.finishStream(*this);
    }
  }
  void readDisable(bool disable) override {
    read_disabled_ = disable;
    if (!disable && unconsumed_ > 0 && id_ >= 0) {
      connection_.codec_.consume(id_, unconsumed_);
      unconsumed_ = 0;
      connection_.flush();
    }
  }

  int32_t id() const { return id_; }
  UpstreamResponseHandler* handler() const { return handler_; }
  bool responseStarted() const { return response_started_; }
  void markStarted() { response_started_ = true; }
  void received(size_t bytes) {
    if (read_disabled_) {
      unconsumed_ += bytes;
    } else if (id_ >= 0) {
      connection_.codec_.consume(id_, bytes);
    }
  }
  void onWritable() {
    if (write_blocked_ && handler_) {
      write_blocked_ = false;
      handler_->onUpstreamWriteBlocked(false);
    }
  }
  // Ends the stream for the handler (no further callbacks) and reports why.
  void fail(UpstreamFailure failure) {
    UpstreamResponseHandler* handler = handler_;
    handler_ = nullptr;
    connection_.finishStream(*this);
    if (handler) handler->onUpstreamFailure(failure);
  }
  // The response ended normally: the handler already has its last callback.
  void complete() { handler_ = nullptr; }

  event::Buffer body;  // reused for handing DATA to the handler

 private:
  Http2ClientConnection& connection_;
  UpstreamResponseHandler* handler_;
  int32_t id_ = -1;
  bool read_disabled_ = false;
  bool write_blocked_ = false;
  bool response_started_ = false;
  size_t unconsumed_ = 0;
};

Http2ClientConnection::Http2ClientConnection(Http2Pool& pool, event::Dispatcher& dispatcher,
                                             std::unique_ptr<event::BufferedConnection> socket,
                                             const config::ClusterConfig& cluster,
                                             stats::ClusterStats& stats)
    : pool_(pool),
      dispatcher_(dispatcher),
      socket_(std::move(socket)),
      cluster_(cluster),
      stats_(stats),
      codec_(http::Http2Codec::Mode::Client, *this, cluster.http2, dispatcher),
      connect_timer_(dispatcher, [this] {
        stats_.upstream_connect_failures_total.inc();
        close();
      }) {
  socket_->setCallbacks(this);
  connect_timer_.enable(cluster.connect_timeout);
  flush();  // the client preface and SETTINGS wait in the socket until connected
}

Http2ClientConnection::~Http2ClientConnection() = default;

bool Http2ClientConnection::hasRoom() const {
  // Past the backend's own limit nghttp2 would hold the stream back unseen, and before
  // its SETTINGS arrive the backend would refuse it: the limit the pool last heard from
  // this endpoint stands in until then.
  const size_t peer =
      codec_.peerSettingsSeen() ? codec_.peerMaxConcurrentStreams() : pool_.knownPeerStreamLimit();
  return ready() && streams_.size() < std::min<size_t>(cluster_.http2.max_concurrent_streams, peer);
}

UpstreamStream& Http2ClientConnection::newStream(UpstreamResponseHandler& handler) {
  streams_.push_back(std::make_unique<Http2UpstreamStream>(*this, handler));
  return *streams_.back();
}

void Http2ClientConnection::flush() {
  if (closed_) return;
  const size_t pending = socket_->pendingOutput();
  if (pending >= kSocketHighWatermark) return;
  scratch_.clear();
  codec_.produce(scratch_, kSocketHighWatermark - pending);
  if (!scratch_.empty()) socket_->write(scratch_);
  if (codec_.failed()) close();
}

void Http2ClientConnection::onConnected() {
  connect_timer_.disable();
  connected_ = true;
  flush();
  pool_.onConnectionReady(*this);
}

void Http2ClientConnection::onRead() {
  event::Buffer& input = socket_->input();
  stats_.upstream_bytes_received_total.inc(input.length());
  bool failed = false;
  input.forEachChunk([&](std::string_view chunk) {
    failed = codec_.receive(chunk) < 0 || closed_;
    return !failed;
  });
  if (closed_) return;
  input.drain(input.length());
  if (codec_.peerSettingsSeen()) pool_.notePeerStreamLimit(codec_.peerMaxConcurrentStreams());
  flush();
  if (failed || codec_.failed()) close();
}

void Http2ClientConnection::onWriteDrained() {
  flush();
}

void Http2ClientConnection::onClose(event::CloseReason reason) {
  if (!connected_) stats_.upstream_connect_failures_total.inc();
  close();
}

void Http2ClientConnection::close() {
  if (closed_) return;
  const bool was_connected = connected_;
  closed_ = true;
  connect_timer_.disable();
  socket_->setCallbacks(nullptr);
  socket_->enableRead(false);
  // Fail what is still open: a stream with a response head was cut mid-response.
  std::vector<Http2UpstreamStream*> open;
  for (auto& s : streams_) open.push_back(s.get());
  for (Http2UpstreamStream* s : open) {
    if (s->handler()) {
      stats_.upstream_resets_total.inc();
      s->fail(s->responseStarted() ? UpstreamFailure::ResetDuringResponse
                                   : UpstreamFailure::ResetBeforeResponse);
    }
  }
  pool_.onConnectionClosed(
      *this, was_connected ? std::nullopt
                           : std::optional<UpstreamFailure>(UpstreamFailure::ConnectFailed));
}

void Http2ClientConnection::finishStream(Http2UpstreamStream& stream) {
  if (stream.id() >= 0) by_id_.erase(stream.id());
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (it->get() == &stream) {
      // The stream may be on the stack (its handler called reset()): delete it later.
      dispatcher_.deferredDelete(std::move(*it));
      streams_.erase(it);
      break;
    }
  }
  if (!closed_) pool_.onStreamDone(*this);
}

void Http2ClientConnection::onResponseHeaders(int32_t id, http::ResponseHead& head,
                                              bool end_stream) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second->handler()) return;
  Http2UpstreamStream& stream = *it->second;
  stream.markStarted();
  UpstreamResponseHandler* handler = stream.handler();
  if (end_stream) stream.complete();
  handler->onUpstreamHeaders(head, end_stream);
}

void Http2ClientConnection::onData(int32_t id, std::string_view data, bool end_stream) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second->handler()) {
    codec_.consume(id, data.size());
    return;
  }
  Http2UpstreamStream& stream = *it->second;
  stream.received(data.size());
  UpstreamResponseHandler* handler = stream.handler();
  if (end_stream) stream.complete();
  stream.body.add(data);
  handler->onUpstreamData(stream.body, end_stream);
  stream.body.drain(stream.body.length());
}

void Http2ClientConnection::onTrailers(int32_t id, http::HeaderMap& trailers) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second->handler()) return;
  UpstreamResponseHandler* handler = it->second->handler();
  it->second->complete();
  handler->onUpstreamTrailers(trailers);
}

void Http2ClientConnection::onStreamClosed(int32_t id, uint32_t error_code) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  Http2UpstreamStream& stream = *it->second;
  if (stream.handler()) {
    // Closed before the response ended: refused streams were never processed.
    stats_.upstream_resets_total.inc();
    stream.fail(error_code == NGHTTP2_REFUSED_STREAM ? UpstreamFailure::Refused
                : stream.responseStarted()           ? UpstreamFailure::ResetDuringResponse
                                                     : UpstreamFailure::ResetBeforeResponse);
    return;
  }
  finishStream(stream);
}

void Http2ClientConnection::onGoaway(int32_t, uint32_t) {
  // No new streams here; the pool opens another connection and this one closes when empty.
  pool_.onStreamDone(*this);
}

void Http2ClientConnection::onProtocolError(http::Http2ProtocolError kind) {
  log::warn("upstream http2 protocol error",
            {{"cluster", cluster_.name}, {"kind", http::protocolErrorName(kind)}});
  // Reported from inside receive() or produce(): flush(), which follows both, writes
  // the GOAWAY and closes. Flushing from here would nest inside one.
}

void Http2ClientConnection::onStreamWritable(int32_t id) {
  auto it = by_id_.find(id);
  if (it != by_id_.end()) it->second->onWritable();
}

}  // namespace rampart::upstream
