// libFuzzer target: arbitrary bytes into http::Http1Parser, in request and
// response mode, fed in pieces the way a connection would feed it.
//
// Besides "never crash", it checks the contract the connections rely on and
// aborts when it breaks: events come in order (head, body*, complete), consumed
// never exceeds the input, a pause follows a completed message, the parser makes
// progress (no endless zero-byte pauses), errors are sticky, and every head the
// parser accepts serializes back into bytes that parse to the same head.
//
// The first input byte is the setup:
//   bit 0      mode: 0 request, 1 response
//   bits 1-3   piece size: 0 = whole input, else 1 << (n - 1) bytes (1..64)
//   bits 4-5   what onHeaders returns: Continue, Continue, SkipBody, Abort
//   bit 6      header limit: 64 KiB or 256 bytes
//   bit 7      call finish() at the end, as on EOF

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/http1_codec.h"

namespace rampart::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "http1_parser_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

Pairs pairsOf(const HeaderMap& headers) {
  Pairs out;
  headers.forEach([&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
  return out;
}

// Captures the first head a parser reports; used to re-parse serialized heads.
class HeadCatcher : public Http1ParserCallbacks {
 public:
  HeadersAction onRequestHead(RequestHead& head) override {
    if (!request) request = head;
    return HeadersAction::Abort;  // the head is all we need
  }
  HeadersAction onResponseHead(ResponseHead& head) override {
    if (!response) response = head;
    return HeadersAction::Abort;
  }
  void onBody(std::string_view) override {}
  void onMessageComplete() override {}

  std::optional<RequestHead> request;
  std::optional<ResponseHead> response;
};

// Serialized heads must parse back to the same method, target and headers.
void checkRequestRoundTrip(const RequestHead& head) {
  std::string wire;
  serializeRequestHead(head, "", wire);
  HeadCatcher catcher;
  Http1Parser parser(Http1Parser::Mode::Request, catcher, 1 << 20);
  parser.execute(wire);
  check(catcher.request.has_value(), "a serialized request head does not parse");
  check(catcher.request->method == head.method, "round trip changed the method");
  check(catcher.request->path == head.path, "round trip changed the target");
  check(pairsOf(catcher.request->headers) == pairsOf(head.headers),
        "round trip changed the request headers");
}

void checkResponseRoundTrip(const ResponseHead& head) {
  std::string wire;
  serializeResponseHead(head, "", wire);
  HeadCatcher catcher;
  Http1Parser parser(Http1Parser::Mode::Response, catcher, 1 << 20);
  parser.execute(wire);
  check(catcher.response.has_value(), "a serialized response head does not parse");
  check(catcher.response->status == head.status, "round trip changed the status");
  check(head.reason.empty() || catcher.response->reason == head.reason,
        "round trip changed the reason");
  check(pairsOf(catcher.response->headers) == pairsOf(head.headers),
        "round trip changed the response headers");
}

// Checks the order of events and each head's round trip.
class Checker : public Http1ParserCallbacks {
 public:
  explicit Checker(HeadersAction action) : action_(action) {}

  HeadersAction onRequestHead(RequestHead& head) override {
    onHead();
    checkRequestRoundTrip(head);
    return action_ == HeadersAction::SkipBody ? HeadersAction::Continue : action_;
  }
  HeadersAction onResponseHead(ResponseHead& head) override {
    onHead();
    check(head.status >= 0 && head.status <= 999, "status out of range");
    checkResponseRoundTrip(head);
    return action_;
  }
  void onBody(std::string_view data) override {
    check(in_message_, "body outside a message");
    check(!data.empty(), "empty body piece");
  }
  void onMessageComplete() override {
    check(in_message_, "completion without a head");
    in_message_ = false;
    ++completed_;
  }

  int completed() const { return completed_; }

 private:
  void onHead() {
    check(!in_message_, "a second head before the first message completed");
    in_message_ = true;
  }

  HeadersAction action_;
  bool in_message_ = false;
  int completed_ = 0;
};

void run(const uint8_t* bytes, size_t size) {
  if (size == 0) return;
  const uint8_t setup = bytes[0];
  const auto mode = (setup & 1) ? Http1Parser::Mode::Response : Http1Parser::Mode::Request;
  const unsigned step_code = (setup >> 1) & 7;
  const size_t step = step_code == 0 ? 0 : size_t{1} << (step_code - 1);
  static constexpr HeadersAction kActions[] = {HeadersAction::Continue, HeadersAction::Continue,
                                               HeadersAction::SkipBody, HeadersAction::Abort};
  const HeadersAction action = kActions[(setup >> 4) & 3];
  const size_t limit = (setup & 0x40) ? 256 : 64 * 1024;
  const bool finish = (setup & 0x80) != 0;

  Checker checker(action);
  Http1Parser parser(mode, checker, limit);
  std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
  bool failed = false;
  int zero_progress_pauses = 0;
  while (!data.empty() && !failed) {
    std::string_view piece = data.substr(0, step == 0 ? data.size() : step);
    data.remove_prefix(piece.size());
    while (!piece.empty()) {
      const int completed_before = checker.completed();
      const Http1Parser::Result r = parser.execute(piece);
      check(r.consumed <= piece.size(), "consumed more than it was given");
      if (r.status == Http1Parser::Status::Error) {
        check(parser.error() != Http1Error::None, "Error status without an error");
        check(r.consumed == 0, "an error reported consumed bytes");
        failed = true;
        break;
      }
      if (r.status == Http1Parser::Status::Ok) {
        check(r.consumed == piece.size(), "Ok without consuming everything");
        break;
      }
      // Paused: exactly one message completed in this call.
      check(checker.completed() == completed_before + 1, "paused without a completed message");
      zero_progress_pauses = r.consumed == 0 ? zero_progress_pauses + 1 : 0;
      check(zero_progress_pauses < 3, "the parser pauses without making progress");
      piece.remove_prefix(r.consumed);
      parser.resume();
    }
  }
  if (failed) {
    // Errors are sticky: no more events, nothing consumed.
    const int completed = checker.completed();
    const Http1Parser::Result again = parser.execute("GET / HTTP/1.1\r\n\r\n");
    check(again.status == Http1Parser::Status::Error && again.consumed == 0, "error not sticky");
    check(parser.finish() == Http1Parser::Status::Error, "finish after an error");
    check(checker.completed() == completed, "events after an error");
    return;
  }
  if (finish) {
    const Http1Parser::Status s = parser.finish();
    check(s != Http1Parser::Status::Paused, "finish paused");
    if (s == Http1Parser::Status::Error) {
      check(parser.error() != Http1Error::None, "finish error without an error");
    }
  }
}

}  // namespace
}  // namespace rampart::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rampart::http::run(data, size);
  return 0;
}
