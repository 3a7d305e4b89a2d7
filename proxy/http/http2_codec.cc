#include "proxy/http/http2_codec.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>

namespace rampart::http {

namespace {

constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Past this many already-sent bytes at the front of a send queue, compact it.
constexpr size_t kCompactThreshold = 64 * 1024;
constexpr int32_t kMaxWindow = 0x7fffffff;

struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* cbs) const { nghttp2_session_callbacks_del(cbs); }
};
struct OptionDeleter {
  void operator()(nghttp2_option* option) const { nghttp2_option_del(option); }
};

std::string_view view(const uint8_t* data, size_t len) {
  return std::string_view(reinterpret_cast<const char*>(data), len);
}

nghttp2_nv makeNv(std::string_view name, std::string_view value) {
  // nghttp2 copies names and values during submit, so views into the caller's data suffice.
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::string_view trimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Headers HTTP/2 forbids (RFC 9113 8.2.2) plus those the head carries elsewhere
// (host becomes :authority, content-length is written from the head's field).
class ForbiddenHeaders {
 public:
  explicit ForbiddenHeaders(const HeaderMap& headers) {
    // A Connection header names further hop-by-hop headers.
    headers.forEach([this](std::string_view name, std::string_view value) {
      if (name != "connection") return;
      while (!value.empty()) {
        const size_t comma = value.find(',');
        const std::string_view token = trimOws(value.substr(0, comma));
        if (!token.empty()) {
          std::string lowered(token);
          toLowerAscii(lowered);
          named_.push_back(std::move(lowered));
        }
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
      }
    });
  }

  // True when `name: value` must not be sent on HTTP/2.
  bool forbidden(std::string_view name, std::string_view value) const {
    if (name.empty() || name.front() == ':') return true;
    static constexpr std::string_view kAlways[] = {
        "connection",     "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
        "http2-settings", "host",       "content-length"};
    for (std::string_view n : kAlways) {
      if (name == n) return true;
    }
    if (name == "te") return !equalsIgnoreCase(trimOws(value), "trailers");
    for (const std::string& n : named_) {
      if (name == n) return true;
    }
    // A value nghttp2 would send but a peer must reject would fail the whole stream.
    return nghttp2_check_header_name(reinterpret_cast<const uint8_t*>(name.data()), name.size()) ==
               0 ||
           nghttp2_check_header_value(reinterpret_cast<const uint8_t*>(value.data()),
                                      value.size()) == 0;
  }

 private:
  std::vector<std::string> named_;
};

// Appends the headers of `headers` that may travel on HTTP/2.
void appendRegular(const HeaderMap& headers, std::vector<nghttp2_nv>& nva) {
  const ForbiddenHeaders filter(headers);
  headers.forEach([&](std::string_view name, std::string_view value) {
    if (!filter.forbidden(name, value)) nva.push_back(makeNv(name, value));
  });
}

std::optional<uint64_t> parseLength(std::string_view value) {
  uint64_t length = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
  return length;
}

// One field of a request head; nghttp2 already checked the pseudo-headers' presence and form.
void addRequestField(RequestHead& h, std::string_view name, std::string_view value) {
  if (name == ":method") {
    h.method.assign(value);
  } else if (name == ":path") {
    h.path.assign(value);
  } else if (name == ":authority") {
    h.authority.assign(value);
  } else if (name == ":scheme") {
    h.scheme.assign(value);
  } else if (name.front() != ':') {
    if (name == "content-length") h.content_length = parseLength(value);
    h.headers.add(name, value);
  }
}

// One field of a response head.
void addResponseField(ResponseHead& h, std::string_view name, std::string_view value) {
  if (name == ":status") {
    int status = 0;
    std::from_chars(value.data(), value.data() + value.size(), status);
    h.status = status;
  } else if (name.front() != ':') {
    if (name == "content-length") h.content_length = parseLength(value);
    h.headers.add(name, value);
  }
}

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

// Per-stream state. Owned by streams_ from the first HEADERS until the stream closes.
struct Http2Codec::Stream {
  explicit Stream(int32_t stream_id) : id(stream_id) {}
  size_t queued() const { return queue.size() - queue_offset; }

  int32_t id;
  // Receiving.
  RequestHead request;    // server: the request being assembled
  ResponseHead response;  // client: the response being assembled
  HeaderMap trailers;
  std::string cookies;  // HTTP/2 may split cookie into many fields; joined with "; "
  size_t header_bytes = 0;
  size_t unconsumed = 0;         // bytes given to onData and not yet consume()d
  bool header_overflow = false;  // the header list passed the limit
  bool head_delivered = false;   // the owner got the head; later HEADERS are trailers
  bool known = false;            // the owner knows the stream (gets onStreamClosed)
  bool rejected = false;         // the codec answered it (431)
  bool peer_ended = false;       // END_STREAM received
  bool peer_reset = false;       // RST_STREAM received
  // Sending.
  std::string queue;
  size_t queue_offset = 0;
  HeaderMap out_trailers;
  bool has_trailers = false;
  bool end_queued = false;  // the owner marked the end of its body
  bool head_sent = false;   // our head (request or response) was submitted
  bool body_open = false;   // a data provider is attached or will be
  bool deferred = false;    // the data provider is waiting for bytes
  bool local_reset = false;
  bool above_watermark = false;
  policy::TimePoint last_progress{};
};

void Http2Codec::SessionDeleter::operator()(nghttp2_session* session) const {
  nghttp2_session_del(session);
}

Http2Codec::Http2Codec(Mode mode, Http2Callbacks& callbacks, const Http2Limits& limits,
                       const policy::TimeSource& clock)
    : mode_(mode),
      callbacks_(callbacks),
      limits_(limits),
      clock_(clock),
      guard_(limits_, clock.now()),
      last_data_progress_(clock.now()) {
  createSession();
  submitSettings();
}

Http2Codec::~Http2Codec() = default;

PrefaceMatch Http2Codec::looksLikeH2Preface(std::string_view first_bytes) {
  const size_t n = std::min(first_bytes.size(), kClientPreface.size());
  if (first_bytes.substr(0, n) != kClientPreface.substr(0, n)) return PrefaceMatch::NotHttp2;
  return n == kClientPreface.size() ? PrefaceMatch::Http2 : PrefaceMatch::NeedMore;
}

void Http2Codec::createSession() {
  nghttp2_session_callbacks* raw_cbs = nullptr;
  if (nghttp2_session_callbacks_new(&raw_cbs) != 0) throw std::bad_alloc();
  std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter> cbs(raw_cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs.get(), &onBeginHeadersCb);
  nghttp2_session_callbacks_set_on_header_callback(cbs.get(), &onHeaderCb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), &onFrameRecvCb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), &onDataChunkCb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), &onStreamCloseCb);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs.get(), &onFrameSendCb);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs.get(), &onFrameNotSendCb);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs.get(), &onInvalidFrameCb);
  nghttp2_session_callbacks_set_error_callback2(cbs.get(), &onErrorCb);

  nghttp2_option* raw_option = nullptr;
  if (nghttp2_option_new(&raw_option) != 0) throw std::bad_alloc();
  std::unique_ptr<nghttp2_option, OptionDeleter> option(raw_option);
  // The owner acknowledges bytes once forwarded: backpressure toward a fast sender.
  nghttp2_option_set_no_auto_window_update(option.get(), 1);
  nghttp2_option_set_max_outbound_ack(option.get(), limits_.max_outbound_control_frames);
  nghttp2_option_set_max_settings(option.get(), limits_.max_settings_entries);
  nghttp2_option_set_max_continuations(option.get(), limits_.max_continuations);
  nghttp2_option_set_stream_reset_rate_limit(option.get(), limits_.nghttp2_reset_burst,
                                             limits_.nghttp2_reset_rate_per_second);
  // No RFC 7540 priority tree: closed streams need not be kept around.
  nghttp2_option_set_no_closed_streams(option.get(), 1);
  nghttp2_option_set_max_send_header_block_length(
      option.get(), std::max<size_t>(64 * 1024, limits_.max_header_list_bytes));
  // Until the server's SETTINGS arrive, do not open more streams than we would accept.
  nghttp2_option_set_peer_max_concurrent_streams(option.get(), limits_.max_concurrent_streams);

  nghttp2_session* raw = nullptr;
  const int rv = mode_ == Mode::Server
                     ? nghttp2_session_server_new2(&raw, cbs.get(), this, option.get())
                     : nghttp2_session_client_new2(&raw, cbs.get(), this, option.get());
  if (rv != 0) throw std::bad_alloc();
  session_.reset(raw);
}

void Http2Codec::submitSettings() {
  std::vector<nghttp2_settings_entry> iv = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
       std::min<uint32_t>(limits_.initial_stream_window, kMaxWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list_bytes},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE,
       std::clamp<uint32_t>(limits_.max_frame_size, 16384, (1u << 24) - 1)},
  };
  if (mode_ == Mode::Client) iv.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, iv.data(), iv.size());
  const int32_t window =
      static_cast<int32_t>(std::min<uint32_t>(limits_.connection_window, kMaxWindow));
  if (window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0, window);
  }
}

Http2Codec::Stream* Http2Codec::find(int32_t stream_id) const {
  const auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Http2Codec::Stream& Http2Codec::addStream(int32_t stream_id) {
  auto& slot = streams_[stream_id];
  slot = std::make_unique<Stream>(stream_id);
  slot->last_progress = clock_.now();
  return *slot;
}

ssize_t Http2Codec::receive(std::string_view bytes) {
  if (failed_) return NGHTTP2_ERR_INVALID_STATE;
  const ssize_t rv = nghttp2_session_mem_recv(
      session_.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (rv < 0 && !failed_) failFatal(static_cast<int>(rv));
  if (failed_) return rv < 0 ? rv : static_cast<ssize_t>(NGHTTP2_ERR_CALLBACK_FAILURE);
  return rv;
}

size_t Http2Codec::produce(std::string& out, size_t max_bytes) {
  size_t total = 0;
  if (!fatal_out_.empty() || !session_) {
    out.append(fatal_out_);
    total = fatal_out_.size();
    fatal_out_.clear();
    return total;
  }
  in_produce_ = true;
  while (total < max_bytes) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) {
      failFatal(static_cast<int>(n));
      in_produce_ = false;
      out.append(fatal_out_);
      total += fatal_out_.size();
      fatal_out_.clear();
      reportDeferredError();
      return total;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    total += static_cast<size_t>(n);
  }
  in_produce_ = false;
  // Reported after nghttp2 is done with the queues, so the owner may append from the callback.
  std::vector<int32_t> writable;
  writable.swap(writable_);
  for (int32_t id : writable) {
    if (find(id) && !failed_) callbacks_.onStreamWritable(id);
  }
  reportDeferredError();
  return total;
}

void Http2Codec::reportError(Http2ProtocolError kind) {
  // From inside produce() the owner is in the middle of writing what it returns: it
  // hears of the error when produce() is done, or its bytes would go out of order.
  if (in_produce_) {
    deferred_error_ = kind;
    return;
  }
  callbacks_.onProtocolError(kind);
}

void Http2Codec::reportDeferredError() {
  if (!deferred_error_) return;
  const Http2ProtocolError kind = *deferred_error_;
  deferred_error_.reset();
  callbacks_.onProtocolError(kind);
}

uint32_t Http2Codec::peerMaxConcurrentStreams() const {
  if (!session_) return 0;
  return nghttp2_session_get_remote_settings(session_.get(),
                                             NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool Http2Codec::wantsRead() const {
  if (failed_ || !session_) return false;
  return nghttp2_session_want_read(session_.get()) != 0;
}

bool Http2Codec::wantsWrite() const {
  if (!session_) return !fatal_out_.empty();
  return !fatal_out_.empty() || nghttp2_session_want_write(session_.get()) != 0;
}

// ---- receiving ----------------------------------------------------------------

int Http2Codec::onBeginHeadersCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return static_cast<Http2Codec*>(user_data)->onBeginHeaders(*frame);
}

int Http2Codec::onBeginHeaders(const nghttp2_frame& frame) {
  if (failed_) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (frame.hd.type != NGHTTP2_HEADERS) return 0;
  guard_.onOtherFrame();
  if (frame.headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (mode_ != Mode::Server) return 0;
    addStream(frame.hd.stream_id);
    guard_.onStreamOpened();
    return 0;
  }
  Stream* s = find(frame.hd.stream_id);
  if (!s) return 0;
  s->header_bytes = 0;
  if (mode_ == Mode::Client && !s->head_delivered) {
    // A response head (perhaps the final one after a 1xx): start from scratch.
    s->response = ResponseHead{};
    s->response.status = 0;
    s->cookies.clear();
  }
  return 0;
}

int Http2Codec::onHeaderCb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                           size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                           void* user_data) {
  return static_cast<Http2Codec*>(user_data)->onHeader(*frame, view(name, namelen),
                                                       view(value, valuelen));
}

int Http2Codec::onHeader(const nghttp2_frame& frame, std::string_view name,
                         std::string_view value) {
  if (failed_) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (frame.hd.type != NGHTTP2_HEADERS) return 0;  // PUSH_PROMISE: push is disabled
  Stream* s = find(frame.hd.stream_id);
  if (!s || s->rejected) return 0;
  // RFC 9113 6.5.2: a field costs its name, its value and 32 bytes.
  s->header_bytes += name.size() + value.size() + 32;
  if (s->header_bytes > limits_.max_header_list_bytes) {
    // A request head is answered with 431 once the block ends; anything else resets the stream.
    if (mode_ == Mode::Server && !s->head_delivered) {
      s->header_overflow = true;
      return 0;
    }
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (s->header_overflow || name.empty()) return 0;
  if (s->head_delivered) {
    if (name.front() != ':') s->trailers.add(name, value);
    return 0;
  }
  if (name == "cookie") {
    if (!s->cookies.empty()) s->cookies.append("; ");
    s->cookies.append(value);
  } else if (mode_ == Mode::Server) {
    addRequestField(s->request, name, value);
  } else {
    addResponseField(s->response, name, value);
  }
  return 0;
}

int Http2Codec::onFrameRecvCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return static_cast<Http2Codec*>(user_data)->onFrameRecv(*frame);
}

int Http2Codec::onFrameRecv(const nghttp2_frame& frame) {
  if (failed_) return NGHTTP2_ERR_CALLBACK_FAILURE;
  std::optional<Http2ProtocolError> abuse;
  const bool ack = (frame.hd.flags & NGHTTP2_FLAG_ACK) != 0;
  switch (frame.hd.type) {
    case NGHTTP2_DATA: {
      const bool end = (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
      abuse = guard_.onDataFrame(frame.hd.length, end);
      Stream* s = find(frame.hd.stream_id);
      if (end && s) {
        s->peer_ended = true;
        if (s->known && !s->rejected) callbacks_.onData(s->id, {}, true);
      }
      break;
    }
    case NGHTTP2_HEADERS:
      return onHeadersFrame(frame);
    case NGHTTP2_RST_STREAM:
      guard_.onOtherFrame();
      if (Stream* s = find(frame.hd.stream_id)) s->peer_reset = true;
      break;
    case NGHTTP2_SETTINGS:
      if (ack) {
        guard_.onOtherFrame();
      } else {
        peer_settings_seen_ = true;
        abuse = guard_.onSettings(clock_.now());
      }
      break;
    case NGHTTP2_PING:
      if (ack) {
        guard_.onOtherFrame();
      } else {
        abuse = guard_.onPing(clock_.now());
      }
      break;
    case NGHTTP2_PRIORITY:
      abuse = guard_.onPriority();
      break;
    case NGHTTP2_WINDOW_UPDATE:
      abuse = guard_.onWindowUpdate();
      break;
    case NGHTTP2_GOAWAY:
      guard_.onOtherFrame();
      goaway_received_ = true;
      callbacks_.onGoaway(frame.goaway.last_stream_id, frame.goaway.error_code);
      if (mode_ == Mode::Client) refuseAbove(frame.goaway.last_stream_id);
      break;
    default:
      guard_.onOtherFrame();
      break;
  }
  if (abuse) {
    fail(*abuse, NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

void Http2Codec::refuseAbove(int32_t last_stream_id) {
  // Streams the server will not process, including requests nghttp2 still holds
  // behind the concurrency limit: report them now so the owner retries elsewhere.
  std::vector<int32_t> refused;
  for (const auto& [id, s] : streams_) {
    if (id > last_stream_id) refused.push_back(id);
  }
  std::sort(refused.begin(), refused.end());
  for (int32_t id : refused) onStreamClose(id, NGHTTP2_REFUSED_STREAM);
}

int Http2Codec::onHeadersFrame(const nghttp2_frame& frame) {
  Stream* s = find(frame.hd.stream_id);
  if (!s) return 0;
  const bool end = (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (end) s->peer_ended = true;
  if (s->rejected) return 0;
  if (s->head_delivered) {
    HeaderMap trailers = std::move(s->trailers);
    s->trailers.clear();
    if (s->known) callbacks_.onTrailers(s->id, trailers);
    return 0;
  }
  if (mode_ == Mode::Server && s->header_overflow) {
    rejectHeaderListTooLarge(*s);
    return 0;
  }
  if (mode_ == Mode::Client && s->response.status < 200) {
    return 0;  // interim (1xx): the final head follows in another HEADERS frame
  }
  deliverHead(*s, end);
  return 0;
}

void Http2Codec::deliverHead(Stream& s, bool end_stream) {
  const int32_t id = s.id;
  s.head_delivered = true;
  s.known = true;
  if (mode_ == Mode::Server) {
    RequestHead& h = s.request;
    h.version_major = 2;
    h.version_minor = 0;
    if (!s.cookies.empty()) h.headers.add("cookie", s.cookies);
    if (h.authority.empty()) {
      if (auto host = h.headers.get("host")) h.authority.assign(*host);
    }
    if (auto ct = h.headers.get("content-type")) h.is_grpc = startsWith(*ct, "application/grpc");
    callbacks_.onRequestHeaders(id, h, end_stream);
  } else {
    ResponseHead& h = s.response;
    h.version_major = 2;
    h.version_minor = 0;
    if (!s.cookies.empty()) h.headers.add("cookie", s.cookies);
    callbacks_.onResponseHeaders(id, h, end_stream);
  }
  // The owner copied what it needs; free the head (the stream may be long-lived).
  if (Stream* again = find(id)) {
    again->request = RequestHead{};
    again->response = ResponseHead{};
    again->cookies = std::string();
  }
}

void Http2Codec::rejectHeaderListTooLarge(Stream& s) {
  s.rejected = true;
  s.head_sent = true;
  s.request = RequestHead{};
  const nghttp2_nv nva[] = {makeNv(":status", "431"), makeNv("content-length", "0")};
  nghttp2_submit_response(session_.get(), s.id, nva, 2, nullptr);
  callbacks_.onRequestRejected(s.id, 431);
}

int Http2Codec::onDataChunkCb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                              size_t len, void* user_data) {
  return static_cast<Http2Codec*>(user_data)->onDataChunk(stream_id, view(data, len));
}

int Http2Codec::onDataChunk(int32_t stream_id, std::string_view data) {
  if (failed_) return NGHTTP2_ERR_CALLBACK_FAILURE;
  Stream* s = find(stream_id);
  if (!s || !s->known || s->rejected) {
    // Nobody will forward these bytes: give the window back now.
    nghttp2_session_consume(session_.get(), stream_id, data.size());
    return 0;
  }
  s->unconsumed += data.size();
  callbacks_.onData(stream_id, data, false);
  return 0;
}

int Http2Codec::onStreamCloseCb(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                                void* user_data) {
  return static_cast<Http2Codec*>(user_data)->onStreamClose(stream_id, error_code);
}

int Http2Codec::onStreamClose(int32_t stream_id, uint32_t error_code) {
  const auto it = streams_.find(stream_id);
  if (it == streams_.end()) return 0;
  const std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  queued_total_ -= s->queued();
  // Bytes the owner will never consume() still hold the connection window.
  if (s->unconsumed > 0) nghttp2_session_consume_connection(session_.get(), s->unconsumed);
  if (failed_) return 0;
  // The rapid-reset shape: a peer stream that ends abnormally before we answered it.
  if (mode_ == Mode::Server && !s->head_sent && !s->local_reset &&
      (error_code != NGHTTP2_NO_ERROR || s->peer_reset)) {
    if (auto abuse = guard_.onPrematureReset()) {
      fail(*abuse, NGHTTP2_ENHANCE_YOUR_CALM);
      return 0;
    }
  }
  if (s->known) callbacks_.onStreamClosed(stream_id, error_code);
  return 0;
}

int Http2Codec::onInvalidFrameCb(nghttp2_session*, const nghttp2_frame*, int lib_error_code,
                                 void* user_data) {
  static_cast<Http2Codec*>(user_data)->last_invalid_error_ = lib_error_code;
  return 0;
}

int Http2Codec::onErrorCb(nghttp2_session*, int, const char* msg, size_t len, void* user_data) {
  static_cast<Http2Codec*>(user_data)->last_error_.assign(msg, len);
  return 0;
}

// ---- sending ------------------------------------------------------------------

int Http2Codec::onFrameSendCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return static_cast<Http2Codec*>(user_data)->onFrameSend(*frame);
}

int Http2Codec::onFrameSend(const nghttp2_frame& frame) {
  switch (frame.hd.type) {
    case NGHTTP2_DATA:
      guard_.onDataFrameSent();
      break;
    case NGHTTP2_HEADERS: {
      // After our 431, tell a client still sending its body to stop (RFC 9113 8.1).
      Stream* s = find(frame.hd.stream_id);
      if (s && s->rejected && !s->peer_ended && (frame.hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
      }
      break;
    }
    case NGHTTP2_GOAWAY:
      if (own_goaways_pending_ > 0) {
        --own_goaways_pending_;
        break;
      }
      if (!failed_ && frame.goaway.error_code != NGHTTP2_NO_ERROR) {
        // nghttp2 ended the session on its own (a protocol error by the peer).
        failed_ = true;
        goaway_sent_ = true;
        Http2ProtocolError kind = Http2ProtocolError::Malformed;
        if (frame.goaway.error_code == NGHTTP2_FLOW_CONTROL_ERROR) {
          kind = Http2ProtocolError::FlowControl;
        } else if (last_invalid_error_ == NGHTTP2_ERR_TOO_MANY_SETTINGS) {
          kind = Http2ProtocolError::SettingsFlood;
        } else if (frame.goaway.error_code == NGHTTP2_INTERNAL_ERROR && mode_ == Mode::Server) {
          kind = Http2ProtocolError::RapidReset;  // nghttp2's RST_STREAM rate limit
        }
        reportError(kind);
      }
      break;
    default:
      break;
  }
  return 0;
}

int Http2Codec::onFrameNotSendCb(nghttp2_session*, const nghttp2_frame* frame, int,
                                 void* user_data) {
  return static_cast<Http2Codec*>(user_data)->onFrameNotSend(*frame);
}

int Http2Codec::onFrameNotSend(const nghttp2_frame& frame) {
  // A request that never left (GOAWAY arrived first): certainly not processed.
  if (frame.hd.type != NGHTTP2_HEADERS || mode_ != Mode::Client) return 0;
  return onStreamClose(frame.hd.stream_id, NGHTTP2_REFUSED_STREAM);
}

ssize_t Http2Codec::readDataCb(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                               uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  return static_cast<Http2Codec*>(user_data)->readData(stream_id, buf, length, data_flags);
}

ssize_t Http2Codec::readData(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags) {
  Stream* s = find(stream_id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(length, s->queued());
  if (n > 0) {
    std::memcpy(buf, s->queue.data() + s->queue_offset, n);
    s->queue_offset += n;
    queued_total_ -= n;
    s->last_progress = clock_.now();
    last_data_progress_ = s->last_progress;
    if (s->queue_offset == s->queue.size()) {
      s->queue.clear();
      s->queue_offset = 0;
    } else if (s->queue_offset >= kCompactThreshold && s->queue_offset * 2 >= s->queue.size()) {
      s->queue.erase(0, s->queue_offset);
      s->queue_offset = 0;
    }
    noteWritable(*s);
  }
  if (s->queued() > 0) return static_cast<ssize_t>(n);
  if (!s->end_queued) {
    if (n > 0) return static_cast<ssize_t>(n);
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  s->body_open = false;
  if (s->has_trailers) {
    // Trailers carry END_STREAM; nghttp2 wants them submitted from this callback.
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    std::vector<nghttp2_nv> nva;
    appendRegular(s->out_trailers, nva);
    nghttp2_submit_trailer(session_.get(), stream_id, nva.data(), nva.size());
    s->out_trailers.clear();
  }
  return static_cast<ssize_t>(n);
}

void Http2Codec::noteWritable(Stream& s) {
  if (s.above_watermark && s.queued() <= limits_.stream_send_high_watermark / 2) {
    s.above_watermark = false;
    writable_.push_back(s.id);
  }
}

nghttp2_data_provider Http2Codec::dataProvider() const {
  nghttp2_data_provider provider{};
  provider.source.ptr = nullptr;  // the stream id passed to the callback finds the queue
  provider.read_callback = &readDataCb;
  return provider;
}

int32_t Http2Codec::submitRequest(const RequestHead& head, bool end_stream) {
  // nghttp2 would hand out an id and refuse the stream later; say so now.
  if (mode_ != Mode::Client || failed_ || draining()) return -1;
  std::string_view authority = head.authority;
  if (authority.empty()) authority = head.headers.get("host").value_or("");
  const std::string length = head.content_length ? std::to_string(*head.content_length) : "";
  std::vector<nghttp2_nv> nva;
  nva.reserve(head.headers.size() + 6);
  nva.push_back(makeNv(":method", head.method));
  // string_view on both arms: a std::string temporary would dangle inside the nv list.
  const std::string_view scheme = head.scheme.empty() ? std::string_view("http") : head.scheme;
  const std::string_view path = head.path.empty() ? std::string_view("/") : head.path;
  nva.push_back(makeNv(":scheme", scheme));
  nva.push_back(makeNv(":authority", authority));
  nva.push_back(makeNv(":path", path));
  appendRegular(head.headers, nva);
  if (!length.empty()) nva.push_back(makeNv("content-length", length));
  // gRPC servers require "te: trailers"; an HTTP/1 hop-by-hop strip may have removed it.
  const bool has_te = std::any_of(nva.begin(), nva.end(), [](const nghttp2_nv& nv) {
    return view(nv.name, nv.namelen) == "te";
  });
  if (head.is_grpc && !has_te) nva.push_back(makeNv("te", "trailers"));
  const nghttp2_data_provider provider = dataProvider();
  const int32_t id = nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(),
                                            end_stream ? nullptr : &provider, nullptr);
  if (id < 0) return -1;
  Stream& s = addStream(id);
  s.known = true;
  s.head_sent = true;
  s.body_open = !end_stream;
  s.end_queued = end_stream;
  return id;
}

bool Http2Codec::submitResponse(int32_t stream, const ResponseHead& head, bool end_stream) {
  Stream* s = find(stream);
  if (mode_ != Mode::Server || !s || s->head_sent || s->local_reset || failed_) return false;
  char status[8];
  const auto [end, ec] = std::to_chars(status, status + sizeof status, head.status);
  const bool no_body = head.status == 204 || head.status == 304;
  const std::string length =
      head.content_length && !no_body ? std::to_string(*head.content_length) : "";
  std::vector<nghttp2_nv> nva;
  nva.reserve(head.headers.size() + 2);
  nva.push_back(makeNv(":status", std::string_view(status, static_cast<size_t>(end - status))));
  appendRegular(head.headers, nva);
  if (!length.empty()) nva.push_back(makeNv("content-length", length));
  const nghttp2_data_provider provider = dataProvider();
  const int rv = nghttp2_submit_response(session_.get(), stream, nva.data(), nva.size(),
                                         end_stream ? nullptr : &provider);
  if (rv != 0) return false;
  s->head_sent = true;
  s->body_open = !end_stream;
  if (end_stream) s->end_queued = true;
  return true;
}

bool Http2Codec::submitContinue(int32_t stream) {
  Stream* s = find(stream);
  if (mode_ != Mode::Server || !s || s->head_sent || failed_) return false;
  const nghttp2_nv nv = makeNv(":status", "100");
  return nghttp2_submit_headers(session_.get(), NGHTTP2_FLAG_NONE, stream, nullptr, &nv, 1,
                                nullptr) == 0;
}

bool Http2Codec::submitData(int32_t stream, std::string_view data, bool end_stream) {
  Stream* s = find(stream);
  if (!s || s->end_queued || s->local_reset || failed_) return false;
  if (s->head_sent && !s->body_open) return false;
  if (s->queued() == 0) s->last_progress = clock_.now();
  s->queue.append(data);
  queued_total_ += data.size();
  if (end_stream) s->end_queued = true;
  if (s->queued() > limits_.stream_send_high_watermark) s->above_watermark = true;
  resumeData(stream);
  return true;
}

bool Http2Codec::submitTrailers(int32_t stream, const HeaderMap& trailers) {
  Stream* s = find(stream);
  if (!s || s->end_queued || s->local_reset || failed_) return false;
  if (s->head_sent && !s->body_open) return false;
  s->out_trailers = trailers;
  s->has_trailers = true;
  s->end_queued = true;
  resumeData(stream);
  return true;
}

void Http2Codec::resumeData(int32_t stream) {
  Stream* s = find(stream);
  if (!s || !s->deferred || failed_) return;
  s->deferred = false;
  nghttp2_session_resume_data(session_.get(), stream);
}

bool Http2Codec::resetStream(int32_t stream, uint32_t error_code) {
  Stream* s = find(stream);
  if (!s || failed_) return false;
  s->local_reset = true;
  queued_total_ -= s->queued();
  s->queue.clear();
  s->queue_offset = 0;
  return nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream, error_code) == 0;
}

void Http2Codec::submitGoaway(uint32_t error_code, bool graceful) {
  if (failed_) return;
  if (graceful && mode_ == Mode::Server && !goaway_sent_) {
    // GOAWAY(2^31-1): clients stop opening streams; those in flight still get served.
    if (nghttp2_submit_shutdown_notice(session_.get()) == 0) {
      ++own_goaways_pending_;
      goaway_sent_ = true;
    }
    return;
  }
  const int32_t last = nghttp2_session_get_last_proc_stream_id(session_.get());
  if (nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, last, error_code, nullptr, 0) == 0) {
    ++own_goaways_pending_;
    goaway_sent_ = true;
  }
}

void Http2Codec::consume(int32_t stream, size_t bytes) {
  Stream* s = find(stream);
  if (!s || failed_) return;  // closed: its bytes were given back at close
  bytes = std::min(bytes, s->unconsumed);
  if (bytes == 0) return;
  s->unconsumed -= bytes;
  nghttp2_session_consume(session_.get(), stream, bytes);
}

size_t Http2Codec::resetStalledStreams(policy::Duration max_stall) {
  const policy::TimePoint now = clock_.now();
  std::vector<int32_t> stalled;
  for (const auto& [id, s] : streams_) {
    if (s->queued() > 0 && !s->local_reset && now - s->last_progress > max_stall) {
      stalled.push_back(id);
    }
  }
  if (stalled.empty()) return 0;
  if (now - last_data_progress_ > max_stall) {
    // Not one byte of DATA left this connection for max_stall although some was
    // queued: the peer holds the connection open with zero windows (a stall attack,
    // or a dead client). It goes, not just its streams.
    fail(Http2ProtocolError::ZeroWindowStall, NGHTTP2_ENHANCE_YOUR_CALM);
    return stalled.size();
  }
  for (int32_t id : stalled) resetStream(id, NGHTTP2_CANCEL);
  return stalled.size();
}

bool Http2Codec::streamWritable(int32_t stream) const {
  const Stream* s = find(stream);
  return s && !s->local_reset && !s->end_queued && !failed_ &&
         s->queued() < limits_.stream_send_high_watermark;
}

size_t Http2Codec::sendQueueBytes(int32_t stream) const {
  const Stream* s = find(stream);
  return s ? s->queued() : 0;
}

size_t Http2Codec::totalSendQueueBytes() const {
  return queued_total_;
}

// ---- failure ------------------------------------------------------------------

void Http2Codec::fail(Http2ProtocolError kind, uint32_t error_code) {
  if (failed_) return;
  failed_ = true;
  goaway_sent_ = true;
  nghttp2_session_terminate_session(session_.get(), error_code);
  reportError(kind);
}

void Http2Codec::failFatal(int lib_error) {
  if (last_error_.empty()) last_error_ = nghttp2_strerror(lib_error);
  if (failed_) return;
  failed_ = true;
  goaway_sent_ = true;
  Http2ProtocolError kind = Http2ProtocolError::Malformed;
  uint32_t code = NGHTTP2_PROTOCOL_ERROR;
  if (lib_error == NGHTTP2_ERR_FLOODED) {
    kind = Http2ProtocolError::OutboundFlood;
    code = NGHTTP2_ENHANCE_YOUR_CALM;
  } else if (lib_error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
    kind = Http2ProtocolError::ContinuationFlood;
    code = NGHTTP2_ENHANCE_YOUR_CALM;
  } else if (lib_error == NGHTTP2_ERR_NOMEM || lib_error == NGHTTP2_ERR_CALLBACK_FAILURE) {
    kind = Http2ProtocolError::Internal;
    code = NGHTTP2_INTERNAL_ERROR;
  }
  // After a fatal error the session may not be used again: write GOAWAY by hand
  // (9-byte frame header, last stream id, error code).
  const uint32_t last =
      static_cast<uint32_t>(nghttp2_session_get_last_proc_stream_id(session_.get())) & 0x7fffffff;
  const uint8_t frame[17] = {0,
                             0,
                             8,
                             NGHTTP2_GOAWAY,
                             0,
                             0,
                             0,
                             0,
                             0,
                             static_cast<uint8_t>(last >> 24),
                             static_cast<uint8_t>(last >> 16),
                             static_cast<uint8_t>(last >> 8),
                             static_cast<uint8_t>(last),
                             static_cast<uint8_t>(code >> 24),
                             static_cast<uint8_t>(code >> 16),
                             static_cast<uint8_t>(code >> 8),
                             static_cast<uint8_t>(code)};
  fatal_out_.assign(reinterpret_cast<const char*>(frame), sizeof frame);
  session_.reset();
  streams_.clear();
  queued_total_ = 0;
  reportError(kind);
}

}  // namespace rampart::http
