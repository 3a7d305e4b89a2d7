#pragma once
// HTTP/1.1 message parsing on llhttp, and serialization of heads and chunks.
// The codec never touches a socket: feed it bytes, it reports events to a
// callbacks object. One parser per connection direction.

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/message.h"

namespace rampart::http {

// What a parse error means for the response the proxy sends.
enum class Http1Error {
  None,
  Malformed,        // syntax error or a smuggling shape (CL+TE, bad chunk size): 400 and close
  HeadersTooLarge,  // request line + headers over the limit: 431
  Aborted,          // a callback asked to stop parsing
};

// What the owner wants after headers were parsed.
enum class HeadersAction {
  Continue,  // parse the body as framed
  SkipBody,  // a response to HEAD (or similar): there is no body whatever the headers say
  Abort,     // stop parsing; the owner handles the rest
};

class Http1ParserCallbacks {
 public:
  virtual ~Http1ParserCallbacks() = default;
  // A request head was parsed (request parsers).
  virtual HeadersAction onRequestHead(RequestHead& head) { return HeadersAction::Abort; }
  // A response head was parsed (response parsers). 1xx heads are reported too.
  virtual HeadersAction onResponseHead(ResponseHead& head) { return HeadersAction::Abort; }
  // A piece of the (de-chunked) body.
  virtual void onBody(std::string_view data) = 0;
  // The message ended. The parser pauses; call resume() before the next message.
  virtual void onMessageComplete() = 0;
};

class Http1Parser {
 public:
  enum class Mode { Request, Response };
  // Outcome of one execute() call.
  enum class Status {
    Ok,      // all input consumed, message may be incomplete
    Paused,  // a message completed; `consumed` bytes were used, the rest belongs to the next one
    Error,   // see error()/errorReason(); the connection must be closed after answering
  };
  struct Result {
    Status status;
    size_t consumed;
  };

  Http1Parser(Mode mode, Http1ParserCallbacks& callbacks, size_t max_header_bytes);
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses `data`. Stops after a complete message (Status::Paused).
  Result execute(std::string_view data);
  // Tells the parser the peer closed; completes a close-delimited body. Returns Ok or Error.
  Status finish();
  // Continues after a Paused result.
  void resume();
  // True between the first byte of a message and its completion.
  bool messageInProgress() const { return in_message_; }
  // True once the current message's head was parsed, until the next message begins.
  bool headersComplete() const { return headers_complete_; }
  Http1Error error() const { return error_; }
  // llhttp's reason for a Malformed error.
  std::string_view errorReason() const { return error_reason_; }

 private:
  static int onMessageBeginCb(llhttp_t*);
  static int onUrlCb(llhttp_t*, const char*, size_t);
  static int onStatusCb(llhttp_t*, const char*, size_t);
  static int onHeaderFieldCb(llhttp_t*, const char*, size_t);
  static int onHeaderValueCb(llhttp_t*, const char*, size_t);
  static int onHeaderValueCompleteCb(llhttp_t*);
  static int onHeadersCompleteCb(llhttp_t*);
  static int onBodyCb(llhttp_t*, const char*, size_t);
  static int onMessageCompleteCb(llhttp_t*);

  // Counts header bytes against the limit; false when over.
  bool account(size_t n);
  // True when `data` puts a bare LF into the message head being read.
  bool headHasBareLf(std::string_view data);
  // Builds the head, hands it to the callbacks; returns llhttp's on_headers_complete code.
  int handleHeadersComplete();

  Mode mode_;
  Http1ParserCallbacks& callbacks_;
  size_t max_header_bytes_;
  llhttp_settings_t settings_{};
  llhttp_t parser_{};
  RequestHead request_;
  ResponseHead response_;
  std::string field_;
  std::string value_;
  bool value_started_ = false;
  size_t header_bytes_ = 0;
  bool in_message_ = false;
  bool headers_complete_ = false;
  uint32_t head_tail_ = 0;  // the head's last bytes so far, newest in the low byte
  Http1Error error_ = Http1Error::None;
  std::string error_reason_;
};

// Appends "METHOD target HTTP/1.1\r\n" + headers + extra + "\r\n" to `out`;
// `extra` holds framing lines the codec adds ("content-length: 5\r\n").
void serializeRequestHead(const RequestHead& head, std::string_view extra, std::string& out);
// Appends "HTTP/1.1 status reason\r\n" + headers + extra + "\r\n" to `out`.
void serializeResponseHead(const ResponseHead& head, std::string_view extra, std::string& out);
// Appends one chunk of chunked transfer coding (nothing for empty data).
void appendChunkHeader(size_t length, std::string& out);
// The terminating zero-size chunk, with optional trailers.
void appendLastChunk(const HeaderMap* trailers, std::string& out);

}  // namespace rampart::http
