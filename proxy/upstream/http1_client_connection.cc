#include "proxy/upstream/http1_client_connection.h"

#include "proxy/common/log.h"
#include "proxy/upstream/http1_pool.h"

namespace rampart::upstream {

namespace {
// Above this much unsent request body the router stops reading from the client.
constexpr size_t kWriteHighWatermark = 256 * 1024;
// Upstream response heads are not limited by the downstream limit, but must stay sane.
constexpr size_t kMaxResponseHeaderBytes = 256 * 1024;
}  // namespace

Http1ClientConnection::Http1ClientConnection(Http1Pool& pool, event::Dispatcher& dispatcher,
                                             std::unique_ptr<event::BufferedConnection> socket,
                                             stats::ClusterStats& stats,
                                             event::Duration connect_timeout)
    : pool_(pool),
      dispatcher_(dispatcher),
      socket_(std::move(socket)),
      stats_(stats),
      parser_(http::Http1Parser::Mode::Response, *this, kMaxResponseHeaderBytes),
      connect_timer_(dispatcher, [this] {
        stats_.upstream_connect_failures_total.inc();
        close(UpstreamFailure::ConnectTimeout);
      }) {
  socket_->setCallbacks(this);
  if (socket_->closed()) {
    // connect() failed synchronously: report it from the loop, not from the constructor.
    dispatcher_.defer([this] {
      if (state_ == State::Connecting) {
        stats_.upstream_connect_failures_total.inc();
        close();
      }
    });
  } else {
    connect_timer_.enable(connect_timeout);
  }
}

Http1ClientConnection::~Http1ClientConnection() = default;

void Http1ClientConnection::attach(UpstreamResponseHandler& handler) {
  handler_ = &handler;
  state_ = State::Busy;
  request_is_head_ = false;
  request_chunked_ = false;
  request_complete_ = false;
  response_started_ = false;
  response_head_sent_ = false;
  interim_response_ = false;
  response_keep_alive_ = true;
  response_complete_ = false;
  write_blocked_ = false;
  socket_->enableRead(true);
}

void Http1ClientConnection::encodeHeaders(const http::RequestHead& head, bool end_stream) {
  request_is_head_ = head.isHead();
  scratch_.clear();
  std::string framing;
  if (head.content_length) {
    framing = "content-length: " + std::to_string(*head.content_length) + "\r\n";
  } else if (!end_stream) {
    framing = "transfer-encoding: chunked\r\n";
    request_chunked_ = true;
  } else if (head.method == "POST" || head.method == "PUT" || head.method == "PATCH") {
    framing = "content-length: 0\r\n";
  }
  // An HTTP/2 request carries its host as :authority; HTTP/1.1 requires a Host header.
  if (!head.authority.empty() && !head.headers.get("host"))
    framing += "host: " + head.authority + "\r\n";
  http::serializeRequestHead(head, framing, scratch_);
  socket_->write(scratch_);
  stats_.upstream_bytes_sent_total.inc(scratch_.size());
  ++requests_sent_;
  request_complete_ = end_stream;
}

void Http1ClientConnection::encodeData(event::Buffer& data, bool end_stream) {
  if (state_ != State::Busy) return;
  const size_t length = data.length();
  stats_.upstream_bytes_sent_total.inc(length);
  if (request_chunked_) {
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
  if (end_stream) request_complete_ = true;
  checkWriteBlocked();
}

void Http1ClientConnection::checkWriteBlocked() {
  if (!write_blocked_ && socket_->pendingOutput() > kWriteHighWatermark && handler_) {
    write_blocked_ = true;
    handler_->onUpstreamWriteBlocked(true);
  }
}

void Http1ClientConnection::reset() {
  handler_ = nullptr;
  socket_->abort();
  close();
}

void Http1ClientConnection::readDisable(bool disable) {
  if (state_ == State::Busy) socket_->enableRead(!disable);
}

void Http1ClientConnection::close(UpstreamFailure if_connecting) {
  if (state_ == State::Closed) return;
  const State previous = state_;
  state_ = State::Closed;
  connect_timer_.disable();
  // Keep the socket object alive until deferred deletion: onRead may still be iterating its input.
  socket_->setCallbacks(nullptr);
  socket_->enableRead(false);
  pool_.onConnectionClosed(
      *this, previous == State::Busy,
      previous == State::Connecting ? std::optional<UpstreamFailure>(if_connecting) : std::nullopt);
}

void Http1ClientConnection::fail(UpstreamFailure failure) {
  UpstreamResponseHandler* handler = handler_;
  handler_ = nullptr;
  if (failure != UpstreamFailure::ConnectFailed && failure != UpstreamFailure::ConnectTimeout) {
    stats_.upstream_resets_total.inc();
  }
  close();
  if (handler) handler->onUpstreamFailure(failure);
}

void Http1ClientConnection::onConnected() {
  connect_timer_.disable();
  state_ = State::Idle;
  pool_.onConnectionReady(*this);
}

void Http1ClientConnection::onRead() {
  event::Buffer& input = socket_->input();
  // Count only what arrived since the last read (unparsed bytes stay in the buffer).
  if (input.length() > input_seen_)
    stats_.upstream_bytes_received_total.inc(input.length() - input_seen_);
  if (state_ != State::Busy) {
    // An idle upstream must not talk; whatever it sent cannot belong to a request.
    close();
    return;
  }
  response_started_ = response_started_ || input.length() > 0;
  while (state_ == State::Busy && !input.empty()) {
    size_t consumed = 0;
    http::Http1Parser::Status status = http::Http1Parser::Status::Ok;
    input.forEachChunk([&](std::string_view chunk) {
      const auto result = parser_.execute(chunk);
      consumed += result.consumed;
      status = result.status;
      return status == http::Http1Parser::Status::Ok && state_ == State::Busy;
    });
    if (state_ != State::Busy) return;  // the handler reset us from a callback
    input.drain(consumed);
    input_seen_ = input.length();
    if (status == http::Http1Parser::Status::Error) {
      log::warn("malformed upstream response",
                {{"endpoint", socket_->peer().toString()}, {"reason", parser_.errorReason()}});
      fail(response_head_sent_ ? UpstreamFailure::ResetDuringResponse
                               : UpstreamFailure::ProtocolError);
      return;
    }
    if (status == http::Http1Parser::Status::Paused) {
      parser_.resume();
      if (response_complete_) {
        finishResponse();
        return;
      }
      // An interim 1xx response ended; keep parsing the final one.
    }
  }
}

void Http1ClientConnection::finishResponse() {
  // Reusable only when both sides agreed and nothing is half-sent or left over.
  const bool reusable = response_keep_alive_ && request_complete_ && socket_->input().empty() &&
                        socket_->pendingOutput() == 0;
  handler_ = nullptr;
  state_ = State::Idle;
  pool_.onResponseComplete(*this, reusable);
}

void Http1ClientConnection::onWriteDrained() {
  if (write_blocked_ && handler_) {
    write_blocked_ = false;
    handler_->onUpstreamWriteBlocked(false);
  }
}

void Http1ClientConnection::onClose(event::CloseReason reason) {
  switch (state_) {
    case State::Connecting:
      stats_.upstream_connect_failures_total.inc();
      close();
      return;
    case State::Idle:
    case State::Closed:
      close();
      return;
    case State::Busy:
      break;
  }
  if (reason == event::CloseReason::RemoteClose && response_head_sent_ &&
      parser_.messageInProgress()) {
    // A close-delimited body ends at EOF.
    if (parser_.finish() == http::Http1Parser::Status::Ok && response_complete_) {
      response_keep_alive_ = false;
      finishResponse();
      return;
    }
  }
  fail(response_head_sent_ ? UpstreamFailure::ResetDuringResponse
                           : UpstreamFailure::ResetBeforeResponse);
}

http::HeadersAction Http1ClientConnection::onResponseHead(http::ResponseHead& head) {
  if (head.status >= 100 && head.status < 200) {
    if (head.status == 101) return http::HeadersAction::Abort;  // we never ask to upgrade
    interim_response_ = true;
    return http::HeadersAction::Continue;
  }
  interim_response_ = false;
  response_head_sent_ = true;
  response_keep_alive_ = head.keep_alive;
  const bool no_body = request_is_head_ || head.status == 204 || head.status == 304 ||
                       (head.content_length && *head.content_length == 0);
  if (handler_) handler_->onUpstreamHeaders(head, no_body);
  if (no_body) handler_ = nullptr;  // the response is over for the handler
  return request_is_head_ ? http::HeadersAction::SkipBody : http::HeadersAction::Continue;
}

void Http1ClientConnection::onBody(std::string_view data) {
  if (!handler_) return;
  body_chunk_.add(data);
  handler_->onUpstreamData(body_chunk_, false);
  if (!body_chunk_.empty()) body_chunk_.drain(body_chunk_.length());
}

void Http1ClientConnection::onMessageComplete() {
  if (interim_response_) {
    interim_response_ = false;
    return;
  }
  response_complete_ = true;
  if (handler_) {
    UpstreamResponseHandler* handler = handler_;
    handler_ = nullptr;
    body_chunk_.drain(body_chunk_.length());
    handler->onUpstreamData(body_chunk_, true);
  }
}

}  // namespace rampart::upstream
