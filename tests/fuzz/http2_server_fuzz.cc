// libFuzzer target: arbitrary bytes into a server-mode http::Http2Codec, fed in
// pieces the way a connection would, with an owner that answers, streams,
// resets and consumes so the send paths run too.
//
// Besides "never crash", it checks the contract the downstream connection will
// rely on and aborts when it breaks: a head comes before data or trailers,
// nothing arrives on a stream after its end or close, a stream closes at most
// once, onProtocolError fires at most once and silences everything after it,
// and the codec stops wanting to read once it failed.
//
// The first input byte is the setup:
//   bit 0      prepend a valid client preface + empty SETTINGS (half the runs get past it)
//   bits 1-3   piece size: 0 = whole input, else 1 << (n - 1) bytes (1..64)
//   bit 4      answer each request (head, a body chunk, end or trailers)
//   bit 5      consume received body bytes (else windows stay closed)
//   bit 6      small limits (2 streams, 1 KiB header list, 1 KiB windows)
//   bit 7      graceful GOAWAY after the first request

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "proxy/http/http2_codec.h"

namespace rampart::http {
namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "http2_server_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

class Owner : public Http2Callbacks {
 public:
  struct State {
    bool head = false;
    bool ended = false;
    bool closed = false;
  };

  Owner(bool answer, bool consume, bool goaway)
      : answer_(answer), consume_(consume), goaway_(goaway) {}

  void onRequestHeaders(int32_t stream, RequestHead& head, bool end_stream) override {
    check(!failed_, "event after onProtocolError");
    check(stream > 0 && (stream & 1) == 1, "server stream id must be odd");
    State& s = streams_[stream];
    check(!s.head && !s.closed, "second head or head after close");
    s.head = true;
    s.ended = end_stream;
    check(!head.method.empty(), "request without a method");
    if (goaway_ && !goaway_sent_) {
      codec->submitGoaway(NGHTTP2_NO_ERROR, true);
      goaway_sent_ = true;
    }
    if (!answer_) return;
    ResponseHead response;
    response.status = (stream % 7 == 0) ? 503 : 200;
    response.headers.add("x-path", head.path.substr(0, 64));
    if (stream % 5 == 0) {
      codec->resetStream(stream, NGHTTP2_CANCEL);
      return;
    }
    codec->submitResponse(stream, response, false);
    codec->submitData(stream, std::string(static_cast<size_t>(stream % 3000), 'r'), false);
    if (stream % 3 == 0) {
      HeaderMap trailers;
      trailers.add("grpc-status", "0");
      codec->submitTrailers(stream, trailers);
    } else {
      codec->submitData(stream, "", true);
    }
  }
  void onData(int32_t stream, std::string_view data, bool end_stream) override {
    check(!failed_, "event after onProtocolError");
    State& s = streams_[stream];
    check(s.head, "data before head");
    check(!s.ended && !s.closed, "data after end or close");
    if (end_stream) {
      check(data.empty(), "end_stream carries no bytes");
      s.ended = true;
    }
    if (consume_ && !data.empty()) codec->consume(stream, data.size());
  }
  void onTrailers(int32_t stream, HeaderMap&) override {
    check(!failed_, "event after onProtocolError");
    State& s = streams_[stream];
    check(s.head && !s.ended && !s.closed, "trailers out of order");
    s.ended = true;
  }
  void onStreamClosed(int32_t stream, uint32_t) override {
    check(!failed_, "event after onProtocolError");
    State& s = streams_[stream];
    check(s.head, "close of a stream the owner never saw");
    check(!s.closed, "closed twice");
    s.closed = true;
  }
  void onProtocolError(Http2ProtocolError) override {
    check(!failed_, "onProtocolError twice");
    failed_ = true;
  }
  void onStreamWritable(int32_t stream) override {
    check(streams_.count(stream) == 1, "writable for an unknown stream");
  }

  Http2Codec* codec = nullptr;

 private:
  bool answer_;
  bool consume_;
  bool goaway_;
  bool goaway_sent_ = false;
  bool failed_ = false;
  std::map<int32_t, State> streams_;
};

}  // namespace
}  // namespace rampart::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart;
  if (size < 1) return 0;
  const uint8_t setup = data[0];
  std::string input;
  if (setup & 1) {
    input.assign("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    input.append(std::string("\0\0\0\x04\0\0\0\0\0", 9));
  }
  input.append(reinterpret_cast<const char*>(data + 1), size - 1);
  const unsigned piece_bits = (setup >> 1) & 7;
  const size_t piece = piece_bits == 0 ? input.size() : size_t{1} << (piece_bits - 1);

  http::Http2Limits limits;
  if (setup & 0x40) {
    limits.max_concurrent_streams = 2;
    limits.max_header_list_bytes = 1024;
    limits.initial_stream_window = 1024;
    limits.stream_send_high_watermark = 1024;
  }
  policy::SimulatedTimeSource clock;
  http::Owner owner((setup & 0x10) != 0, (setup & 0x20) != 0, (setup & 0x80) != 0);
  http::Http2Codec codec(http::Http2Codec::Mode::Server, owner, limits, clock);
  owner.codec = &codec;

  std::string out;
  std::string_view rest(input);
  while (!rest.empty()) {
    const std::string_view chunk = rest.substr(0, std::max<size_t>(piece, 1));
    rest.remove_prefix(chunk.size());
    const bool failed_before = codec.failed();
    const ssize_t rv = codec.receive(chunk);
    http::check(rv < 0 || static_cast<size_t>(rv) == chunk.size(), "partial consumption");
    http::check(!failed_before || rv < 0, "input accepted after failure");
    if (codec.failed()) http::check(!codec.wantsRead(), "wants to read after failure");
    out.clear();
    codec.produce(out, 64 * 1024);
    clock.advance(std::chrono::milliseconds(1));
    if (rv < 0) break;
  }
  codec.resetStalledStreams(std::chrono::seconds(1));
  out.clear();
  codec.produce(out);
  return 0;
}
