#include "proxy/downstream/http1_downstream_connection.h"

#include "proxy/common/log.h"

namespace rampart::downstream {

namespace {
// Above this much unsent response the upstream is paused.
constexpr size_t kWriteHighWatermark = 256 * 1024;
// Unparsed input held at most (pipelined requests, body not yet forwarded).
constexpr size_t kReadHighWatermark = 64 * 1024;
// After answering early (413, 400 mid-body), keep draining the client this long
// so the kernel does not reset the connection before the client reads the answer.
constexpr auto kLingerTime = std::chrono::seconds(2);
}  // namespace

Http1DownstreamConnection::Http1DownstreamConnection(
    server::WorkerContext& context, ConnectionOwner& owner, size_t listener,
    std::unique_ptr<event::BufferedConnection> socket)
    : context_(context),
      owner_(owner),
      listener_(listener),
      stats_(context.stats.listeners[listener]),
      socket_(std::move(socket)),
      parser_(http::Http1Parser::Mode::Request, *this, context.config->limits.max_header_bytes),
      header_timer_(context.dispatcher, [this] { onHeaderTimeout(); }),
      idle_timer_(context.dispatcher, [this] { onIdleTimeout(); }),
      resume_timer_(context.dispatcher, [this] {
        if (lingering_) {
          close();
        } else {
          processInput();
        }
      }) {
  socket_->setCallbacks(this);
  socket_->setReadHighWatermark(kReadHighWatermark);
  peer_host_ = socket_->peer().hostString();
  if (auto identity = socket_->peerIdentity()) peer_identity_ = *identity;
  header_timer_.enable(context.config->limits.header_timeout);
  // The protocol sniffer may have left the first bytes in the input buffer.
  if (!socket_->input().empty()) {
    input_seen_ = socket_->input().length();
    stats_.downstream_bytes_received_total.inc(input_seen_);
    resume_timer_.enable(event::Duration::zero());
  }
}

std::string_view Http1DownstreamConnection::identityHeader() const {
  return context_.config->listeners[listener_].tls.identity_header;
}

Http1DownstreamConnection::~Http1DownstreamConnection() = default;

void Http1DownstreamConnection::drain() {
  if (closed_ || closing_) return;
  close_after_response_ = true;
  if (!request_ && !bytes_seen_) closeAfterFlush();
}

void Http1DownstreamConnection::onRead() {
  event::Buffer& input = socket_->input();
  const size_t length = input.length();
  if (length > input_seen_) stats_.downstream_bytes_received_total.inc(length - input_seen_);
  input_seen_ = length;
  if (lingering_) {
    input.drain(length);
    input_seen_ = 0;
    return;
  }
  processInput();
}

void Http1DownstreamConnection::processInput() {
  event::Buffer& input = socket_->input();
  while (!closed_ && !closing_ && !input.empty()) {
    if (request_ && request_received_) break;  // a pipelined request waits for this response
    if (read_disabled_by_request_) break;
    if (!request_ && !bytes_seen_) {
      bytes_seen_ = true;
      idle_timer_.disable();
      header_timer_.enable(context_.config->limits.header_timeout);
    }
    size_t consumed = 0;
    http::Http1Parser::Status status = http::Http1Parser::Status::Ok;
    in_parse_ = true;
    input.forEachChunk([&](std::string_view chunk) {
      const auto result = parser_.execute(chunk);
      consumed += result.consumed;
      status = result.status;
      return status == http::Http1Parser::Status::Ok && !closed_ && !closing_ &&
             !read_disabled_by_request_;
    });
    in_parse_ = false;
    if (closed_) return;
    input.drain(consumed);
    input_seen_ -= std::min(input_seen_, consumed);
    if (status == http::Http1Parser::Status::Error) {
      onParseError();
      return;
    }
    if (response_done_) {
      finishExchange();
      return;
    }
    if (status == http::Http1Parser::Status::Paused) break;
  }
  if (!closed_) socket_->onInputConsumed();
}

http::HeadersAction Http1DownstreamConnection::onRequestHead(http::RequestHead& head) {
  header_timer_.disable();
  ++requests_;
  stats_.downstream_http1_requests_total.inc();
  request_received_ = false;
  response_done_ = false;
  body_bytes_ = 0;
  client_http10_ = head.version_major == 1 && head.version_minor == 0;
  request_is_head_ = head.isHead();
  request_has_body_ = head.chunked || (head.content_length && *head.content_length > 0);
  const auto& limits = context_.config->limits;
  if (!head.keep_alive || context_.draining ||
      (limits.max_requests_per_connection != 0 &&
       requests_ >= limits.max_requests_per_connection)) {
    close_after_response_ = true;
  }
  if (head.content_length && *head.content_length > limits.max_body_bytes) {
    stats_.downstream_body_too_large_total.inc();
    sendErrorAndClose(413, "body_too_large");
    return http::HeadersAction::Abort;
  }
  if (request_has_body_) idle_timer_.enable(limits.idle_timeout);
  request_ = std::make_unique<router::ActiveRequest>(context_, *this, listener_);
  request_->decodeHeaders(std::move(head), !request_has_body_);
  return closed_ || closing_ ? http::HeadersAction::Abort : http::HeadersAction::Continue;
}

void Http1DownstreamConnection::onBody(std::string_view data) {
  // After an early answer (413, 503, ...) the rest of the body is read and dropped.
  if (!request_ || request_->responseComplete()) return;
  body_bytes_ += data.size();
  idle_timer_.enable(context_.config->limits.idle_timeout);
  if (body_bytes_ > context_.config->limits.max_body_bytes) {
    stats_.downstream_body_too_large_total.inc();
    close_after_response_ = true;
    request_->sendLocalReply(413, "body_too_large", "the request body is over the limit");
    return;
  }
  request_->decodeData(data, false);
}

void Http1DownstreamConnection::onMessageComplete() {
  request_received_ = true;
  idle_timer_.disable();
  if (request_ && request_has_body_) request_->decodeData({}, true);
}

void Http1DownstreamConnection::onParseError() {
  const bool too_large = parser_.error() == http::Http1Error::HeadersTooLarge;
  const int status = too_large ? 431 : 400;
  const char* code = too_large ? "headers_too_large" : "bad_request";
  if (too_large) {
    stats_.downstream_headers_too_large_total.inc();
  } else {
    stats_.downstream_bad_requests_total.inc();
  }
  log::debug("bad request", {{"reason", parser_.errorReason()}, {"status", status}});
  close_after_response_ = true;
  if (request_) {
    // The head was fine, the body framing was not (a bad chunk size).
    request_->sendLocalReply(status, code, parser_.errorReason());
    if (!closed_ && !closing_) closeAfterFlush();
    return;
  }
  sendErrorAndClose(status, code);
}

void Http1DownstreamConnection::sendErrorAndClose(int status, std::string_view code) {
  if (closed_ || closing_) return;
  http::ResponseHead head;
  head.status = status;
  std::string body = "{\"error\":\"" + std::string(code) + "\"}\n";
  head.headers.add("content-type", "application/json");
  scratch_.clear();
  const std::string extra =
      "content-length: " + std::to_string(body.size()) + "\r\nconnection: close\r\n";
  http::serializeResponseHead(head, extra, scratch_);
  scratch_ += body;
  socket_->write(scratch_);
  stats_.downstream_bytes_sent_total.inc(scratch_.size());
  context_.stats.routes.back().responses.back().record(status);
  closeAfterFlush();
}

void Http1DownstreamConnection::encodeHeaders(http::ResponseHead& head, bool end_stream) {
  if (closed_ || closing_) return;
  const int status = head.status;
  response_no_body_ = request_is_head_ || status == 204 || status == 304 || status < 200;
  chunked_response_ = false;
  if (!request_received_ || context_.draining) close_after_response_ = true;
  std::string extra;
  if (status == 204 || status < 200) {
    // No body and no length.
  } else if (head.content_length) {
    extra = "content-length: " + std::to_string(*head.content_length) + "\r\n";
  } else if (end_stream) {
    if (!request_is_head_ && status != 304) extra = "content-length: 0\r\n";
  } else if (response_no_body_) {
    // HEAD / 304 without a known length: nothing to frame.
  } else if (!client_http10_) {
    extra = "transfer-encoding: chunked\r\n";
    chunked_response_ = true;
  } else {
    close_after_response_ = true;  // an HTTP/1.0 client reads until close
  }
  if (close_after_response_) {
    extra += "connection: close\r\n";
  } else if (client_http10_) {
    extra += "connection: keep-alive\r\n";
  }
  scratch_.clear();
  http::serializeResponseHead(head, extra, scratch_);
  socket_->write(scratch_);
  stats_.downstream_bytes_sent_total.inc(scratch_.size());
  if (end_stream) {
    onResponseComplete();
  } else {
    checkWriteBlocked();
  }
}

void Http1DownstreamConnection::encodeData(event::Buffer& data, bool end_stream) {
  if (closed_ || closing_) return;
  const size_t length = data.length();
  if (response_no_body_) {
    data.drain(length);
  } else if (chunked_response_) {
    scratch_.clear();
    if (length > 0) {
      http::appendChunkHeader(length, scratch_);
      socket_->write(scratch_);
      socket_->write(data);
      socket_->write("\r\n");
    }
    if (end_stream) {
      scratch_.clear();
      http::appendLastChunk(nullptr, scratch_);
      socket_->write(scratch_);
    }
  } else {
    socket_->write(data);
  }
  stats_.downstream_bytes_sent_total.inc(length);
  if (end_stream) {
    onResponseComplete();
  } else {
    checkWriteBlocked();
  }
}

void Http1DownstreamConnection::encodeTrailers(http::HeaderMap& trailers) {
  if (closed_ || closing_) return;
  if (chunked_response_ && !response_no_body_) {
    scratch_.clear();
    http::appendLastChunk(&trailers, scratch_);
    socket_->write(scratch_);
  }
  onResponseComplete();
}

void Http1DownstreamConnection::encode100Continue() {
  if (closed_ || closing_ || client_http10_) return;
  socket_->write("HTTP/1.1 100 Continue\r\n\r\n");
}

void Http1DownstreamConnection::readDisable(bool disable) {
  if (closed_ || read_disabled_by_request_ == disable) return;
  read_disabled_by_request_ = disable;
  socket_->enableRead(!disable);
  // Input buffered while paused is parsed from the loop, not from inside this call.
  if (!disable) resume_timer_.enable(event::Duration::zero());
}

void Http1DownstreamConnection::resetStream() {
  if (closed_) return;
  socket_->abort();
  close();
}

void Http1DownstreamConnection::checkWriteBlocked() {
  if (!write_blocked_ && request_ && socket_->pendingOutput() > kWriteHighWatermark) {
    write_blocked_ = true;
    request_->onDownstreamWriteBlocked(true);
  }
}

void Http1DownstreamConnection::onWriteDrained() {
  if (write_blocked_) {
    write_blocked_ = false;
    if (request_) request_->onDownstreamWriteBlocked(false);
  }
  if (closing_ && socket_->pendingOutput() == 0) finishClose();
}

void Http1DownstreamConnection::onResponseComplete() {
  response_done_ = true;
  // Inside the parser the exchange is finished once execute() returns.
  if (!in_parse_) finishExchange();
}

void Http1DownstreamConnection::finishExchange() {
  response_done_ = false;
  if (closed_ || closing_) return;
  if (!request_received_ || close_after_response_ || peer_closed_) {
    closeAfterFlush();
    return;
  }
  context_.dispatcher.deferredDelete(std::move(request_));
  read_disabled_by_request_ = false;
  socket_->enableRead(true);
  write_blocked_ = false;
  bytes_seen_ = false;
  parser_.resume();
  if (!socket_->input().empty()) {
    resume_timer_.enable(event::Duration::zero());  // a pipelined request is waiting
  } else {
    idle_timer_.enable(context_.config->limits.idle_timeout);
  }
}

void Http1DownstreamConnection::closeAfterFlush() {
  if (closed_ || closing_) return;
  closing_ = true;
  header_timer_.disable();
  idle_timer_.disable();
  if (socket_->pendingOutput() == 0) finishClose();
}

void Http1DownstreamConnection::finishClose() {
  if (closed_ || lingering_) return;
  const bool client_may_still_send = bytes_seen_ && !request_received_ && !peer_closed_;
  if (!client_may_still_send) {
    close();
    return;
  }
  // Half-close and discard what the client still sends, so it gets to read our answer.
  lingering_ = true;
  socket_->shutdownWrite();
  socket_->enableRead(true);
  socket_->input().drain(socket_->input().length());
  input_seen_ = 0;
  resume_timer_.enable(kLingerTime);
}

void Http1DownstreamConnection::onClose(event::CloseReason reason) {
  if (closed_) return;
  if (reason == event::CloseReason::RemoteClose && request_ && request_->responseComplete() &&
      !lingering_) {
    // The response is written (maybe still flushing): let it drain, then close.
    peer_closed_ = true;
    closeAfterFlush();
    return;
  }
  // EOF with a request in flight is an abort, as in nginx: a half-closing client is
  // indistinguishable from one that left, and work for a departed client (a batch
  // slot, an upstream connection) is released at once.
  close();
}

void Http1DownstreamConnection::close() {
  if (closed_) return;
  closed_ = true;
  header_timer_.disable();
  idle_timer_.disable();
  resume_timer_.disable();
  if (request_ && !request_->responseComplete()) request_->onDownstreamReset();
  socket_->setCallbacks(nullptr);
  socket_->enableRead(false);
  owner_.onConnectionDone(*this);
}

void Http1DownstreamConnection::onHeaderTimeout() {
  if (!bytes_seen_ && !request_) {
    close();  // nothing was ever sent: no one to answer
    return;
  }
  stats_.downstream_timeouts_total.inc();
  sendErrorAndClose(408, "header_timeout");
}

void Http1DownstreamConnection::onIdleTimeout() {
  if (!request_) {
    close();  // keep-alive connection idle for too long
    return;
  }
  if (!request_received_) {
    stats_.downstream_timeouts_total.inc();
    close_after_response_ = true;
    request_->sendLocalReply(408, "request_timeout", "the request body stalled");
  }
}

}  // namespace rampart::downstream
