#include "proxy/http/http1_codec.h"

#include <charconv>

namespace rampart::http {

namespace {
Http1Parser& self(llhttp_t* p) {
  return *static_cast<Http1Parser*>(p->data);
}

// RFC 9112 3.2.2: a server must accept the absolute form ("GET http://svc/a HTTP/1.1");
// its authority replaces Host, and routing sees the origin form ("/a").
void absoluteFormToOrigin(RequestHead& h) {
  std::string_view target = h.path;
  size_t scheme_end = 0;
  if (target.rfind("http://", 0) == 0) {
    scheme_end = 7;
  } else if (target.rfind("https://", 0) == 0) {
    scheme_end = 8;
  } else {
    return;
  }
  const size_t path_start = target.find_first_of("/?", scheme_end);
  std::string authority(target.substr(scheme_end, path_start == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : path_start - scheme_end));
  std::string path =
      path_start == std::string_view::npos ? "/" : std::string(target.substr(path_start));
  if (path.front() == '?') path.insert(0, "/");
  h.path = std::move(path);
  if (!authority.empty()) {
    h.authority = authority;
    h.headers.set("host", authority);
  }
}
}  // namespace

Http1Parser::Http1Parser(Mode mode, Http1ParserCallbacks& callbacks, size_t max_header_bytes)
    : mode_(mode), callbacks_(callbacks), max_header_bytes_(max_header_bytes) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &onMessageBeginCb;
  settings_.on_url = &onUrlCb;
  settings_.on_status = &onStatusCb;
  settings_.on_header_field = &onHeaderFieldCb;
  settings_.on_header_value = &onHeaderValueCb;
  settings_.on_header_value_complete = &onHeaderValueCompleteCb;
  settings_.on_headers_complete = &onHeadersCompleteCb;
  settings_.on_body = &onBodyCb;
  settings_.on_message_complete = &onMessageCompleteCb;
  llhttp_init(&parser_, mode == Mode::Request ? HTTP_REQUEST : HTTP_RESPONSE, &settings_);
  parser_.data = this;
}

bool Http1Parser::account(size_t n) {
  header_bytes_ += n;
  if (header_bytes_ > max_header_bytes_) {
    error_ = Http1Error::HeadersTooLarge;
    return false;
  }
  return true;
}

int Http1Parser::onMessageBeginCb(llhttp_t* p) {
  Http1Parser& s = self(p);
  s.in_message_ = true;
  s.headers_complete_ = false;
  s.header_bytes_ = 0;
  s.field_.clear();
  s.value_.clear();
  s.value_started_ = false;
  if (s.mode_ == Mode::Request) {
    s.request_ = RequestHead{};
  } else {
    s.response_ = ResponseHead{};
  }
  return 0;
}

int Http1Parser::onUrlCb(llhttp_t* p, const char* at, size_t len) {
  Http1Parser& s = self(p);
  if (!s.account(len)) return -1;
  s.request_.path.append(at, len);
  return 0;
}

int Http1Parser::onStatusCb(llhttp_t* p, const char* at, size_t len) {
  Http1Parser& s = self(p);
  if (!s.account(len)) return -1;
  s.response_.reason.append(at, len);
  return 0;
}

int Http1Parser::onHeaderFieldCb(llhttp_t* p, const char* at, size_t len) {
  Http1Parser& s = self(p);
  if (!s.account(len)) return -1;
  if (s.value_started_) {
    s.field_.clear();
    s.value_.clear();
    s.value_started_ = false;
  }
  s.field_.append(at, len);
  return 0;
}

int Http1Parser::onHeaderValueCb(llhttp_t* p, const char* at, size_t len) {
  Http1Parser& s = self(p);
  if (!s.account(len)) return -1;
  s.value_started_ = true;
  s.value_.append(at, len);
  return 0;
}

int Http1Parser::onHeaderValueCompleteCb(llhttp_t* p) {
  Http1Parser& s = self(p);
  // ": " and CRLF count toward the limit once per line (a value may arrive in many spans).
  if (!s.account(4)) return -1;
  if (s.field_.empty()) {
    // llhttp (even strict) takes ": x" as a header with an empty name; a name is a 1+ char token.
    s.error_ = Http1Error::Malformed;
    s.error_reason_ = "Empty header name";
    return -1;
  }
  // llhttp drops leading but keeps trailing whitespace; neither is part of the value.
  while (!s.value_.empty() && (s.value_.back() == ' ' || s.value_.back() == '\t')) {
    s.value_.pop_back();
  }
  HeaderMap& headers = s.mode_ == Mode::Request ? s.request_.headers : s.response_.headers;
  headers.add(s.field_, s.value_);
  s.field_.clear();
  s.value_.clear();
  s.value_started_ = false;
  return 0;
}

int Http1Parser::onHeadersCompleteCb(llhttp_t* p) {
  return self(p).handleHeadersComplete();
}

int Http1Parser::handleHeadersComplete() {
  headers_complete_ = true;
  // llhttp still takes HTTP/0.9 request lines ("GET /x") and "HTTP/2.0" ones; neither is
  // HTTP/1 framing, and re-sent as HTTP/1.1 they would mean something else. Status codes
  // outside 100..599 are invalid (RFC 9110 15) and cannot be re-serialized.
  const bool bad_version = parser_.http_major != 1;
  const bool bad_status =
      mode_ == Mode::Response && (parser_.status_code < 100 || parser_.status_code > 599);
  if (bad_version || bad_status) {
    error_ = Http1Error::Malformed;
    error_reason_ = bad_version ? "Unsupported HTTP version" : "Invalid status code";
    return -1;
  }
  const bool has_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  HeadersAction action;
  if (mode_ == Mode::Request) {
    RequestHead& h = request_;
    h.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
    h.version_major = parser_.http_major;
    h.version_minor = parser_.http_minor;
    h.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    h.chunked = chunked;
    if (has_length) h.content_length = parser_.content_length;
    if (auto host = h.headers.get("host")) h.authority = std::string(*host);
    absoluteFormToOrigin(h);
    if (auto expect = h.headers.get("expect")) {
      h.expect_continue = equalsIgnoreCase(*expect, "100-continue");
    }
    if (auto ct = h.headers.get("content-type")) {
      h.is_grpc = ct->substr(0, 16) == "application/grpc";
    }
    action = callbacks_.onRequestHead(h);
  } else {
    ResponseHead& h = response_;
    h.status = parser_.status_code;
    h.version_major = parser_.http_major;
    h.version_minor = parser_.http_minor;
    h.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    h.chunked = chunked;
    if (has_length) h.content_length = parser_.content_length;
    action = callbacks_.onResponseHead(h);
    // RFC 9112 6.3: 1xx, 204 and 304 end at the blank line whatever Content-Length or
    // Transfer-Encoding say; llhttp would read a body and eat the next response.
    const bool no_body = h.status < 200 || h.status == 204 || h.status == 304;
    if (no_body && action == HeadersAction::Continue) action = HeadersAction::SkipBody;
  }
  switch (action) {
    case HeadersAction::Continue:
      return 0;
    case HeadersAction::SkipBody:
      return 1;
    case HeadersAction::Abort:
      break;
  }
  error_ = Http1Error::Aborted;
  return -1;
}

int Http1Parser::onBodyCb(llhttp_t* p, const char* at, size_t len) {
  self(p).callbacks_.onBody(std::string_view(at, len));
  return 0;
}

int Http1Parser::onMessageCompleteCb(llhttp_t* p) {
  Http1Parser& s = self(p);
  s.in_message_ = false;
  s.head_tail_ = 0;
  s.callbacks_.onMessageComplete();
  return HPE_PAUSED;
}

bool Http1Parser::headHasBareLf(std::string_view data) {
  // llhttp 8 takes a bare LF as the end of the start line or of the head. RFC 9112 2.2
  // allows that, but a front proxy that reads those bytes differently makes it a
  // request-smuggling vector, so heads must use CRLF. Only head bytes are scanned: the
  // scan stops at the first CRLFCRLF, and bodies (and a paused parser) are skipped.
  if ((in_message_ && headers_complete_) || llhttp_get_errno(&parser_) != HPE_OK) return false;
  uint32_t tail = head_tail_;
  for (const char c : data) {
    if (c == '\n') {
      if ((tail & 0xFF) != '\r') return true;
      if ((tail & 0xFFFFFF) == 0x0D0A0D) return false;  // "\r\n\r" + "\n": the head ends
    }
    tail = (tail << 8) | static_cast<uint8_t>(c);
  }
  head_tail_ = tail;
  return false;
}

Http1Parser::Result Http1Parser::execute(std::string_view data) {
  if (error_ != Http1Error::None) return {Status::Error, 0};
  if (headHasBareLf(data)) {
    error_ = Http1Error::Malformed;
    error_reason_ = "Bare LF in the message head";
    return {Status::Error, 0};
  }
  llhttp_errno_t rc = llhttp_execute(&parser_, data.data(), data.size());
  if (rc == HPE_PAUSED_UPGRADE) {
    // After an Upgrade or CONNECT request completed and resume() was called, llhttp stops
    // once more, with no new message. Rampart never switches protocols (it strips Upgrade),
    // so the next bytes are the next message; reporting this stop as Paused stalled callers.
    const char* pos = llhttp_get_error_pos(&parser_);
    const size_t at = pos ? static_cast<size_t>(pos - data.data()) : 0;
    llhttp_resume_after_upgrade(&parser_);
    rc = llhttp_execute(&parser_, data.data() + at, data.size() - at);
  }
  switch (rc) {
    case HPE_OK:
      return {Status::Ok, data.size()};
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE: {
      const char* pos = llhttp_get_error_pos(&parser_);
      const size_t consumed = pos ? static_cast<size_t>(pos - data.data()) : data.size();
      return {Status::Paused, consumed};
    }
    default:
      if (error_ == Http1Error::None) {
        error_ = Http1Error::Malformed;
        error_reason_ = llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_)
                                                          : llhttp_errno_name(rc);
      }
      return {Status::Error, 0};
  }
}

Http1Parser::Status Http1Parser::finish() {
  if (error_ != Http1Error::None) return Status::Error;
  // Between messages EOF is clean. llhttp would call it unsafe right after resume(): it
  // marks the parser safe only once it runs past the pause in on_message_complete.
  if (!in_message_) return Status::Ok;
  const llhttp_errno_t rc = llhttp_finish(&parser_);
  if (rc == HPE_OK || rc == HPE_PAUSED) return Status::Ok;
  error_ = Http1Error::Malformed;
  error_reason_ = llhttp_errno_name(rc);
  return Status::Error;
}

void Http1Parser::resume() {
  if (llhttp_get_errno(&parser_) == HPE_PAUSED_UPGRADE) {
    // Rampart does not switch protocols on Upgrade; the next bytes are a new message.
    llhttp_resume_after_upgrade(&parser_);
  } else {
    llhttp_resume(&parser_);
  }
}

namespace {
void appendHeaders(const HeaderMap& headers, std::string& out) {
  headers.forEach([&out](std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  });
}
}  // namespace

void serializeRequestHead(const RequestHead& head, std::string_view extra, std::string& out) {
  out.append(head.method);
  out.push_back(' ');
  out.append(head.path);
  out.append(" HTTP/1.1\r\n");
  appendHeaders(head.headers, out);
  out.append(extra);
  out.append("\r\n");
}

void serializeResponseHead(const ResponseHead& head, std::string_view extra, std::string& out) {
  out.append("HTTP/1.1 ");
  char code[8];
  auto [end, ec] = std::to_chars(code, code + sizeof code, head.status);
  out.append(code, end);
  out.push_back(' ');
  out.append(head.reason.empty() ? reasonPhrase(head.status) : head.reason);
  out.append("\r\n");
  appendHeaders(head.headers, out);
  out.append(extra);
  out.append("\r\n");
}

void appendChunkHeader(size_t length, std::string& out) {
  char hex[24];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, length, 16);
  out.append(hex, end);
  out.append("\r\n");
}

void appendLastChunk(const HeaderMap* trailers, std::string& out) {
  out.append("0\r\n");
  if (trailers) appendHeaders(*trailers, out);
  out.append("\r\n");
}

}  // namespace rampart::http
