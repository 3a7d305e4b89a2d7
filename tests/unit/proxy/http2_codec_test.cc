#include "proxy/http/http2_codec.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http/header_utils.h"
#include "proxy/http/http2_grpc.h"

namespace rampart::http {
namespace {

using namespace std::chrono_literals;

// Records what a codec reports, per stream.
class Recorder : public Http2Callbacks {
 public:
  struct Log {
    RequestHead request;
    ResponseHead response;
    bool head = false;
    bool head_end = false;
    std::string body;
    bool ended = false;
    bool has_trailers = false;
    HeaderMap trailers;
    bool closed = false;
    uint32_t close_code = 0;
  };

  void onRequestHeaders(int32_t stream, RequestHead& head, bool end_stream) override {
    Log& log = streams[stream];
    EXPECT_FALSE(log.head) << "second head on stream " << stream;
    log.request = head;
    log.head = true;
    log.head_end = end_stream;
    log.ended = end_stream;
    order.push_back(stream);
  }
  void onResponseHeaders(int32_t stream, ResponseHead& head, bool end_stream) override {
    Log& log = streams[stream];
    EXPECT_FALSE(log.head) << "second head on stream " << stream;
    log.response = head;
    log.head = true;
    log.head_end = end_stream;
    log.ended = end_stream;
  }
  void onData(int32_t stream, std::string_view data, bool end_stream) override {
    Log& log = streams[stream];
    EXPECT_TRUE(log.head) << "data before head";
    EXPECT_FALSE(log.ended) << "data after end";
    log.body.append(data);
    if (end_stream) log.ended = true;
    if (auto_consume && codec && !data.empty()) codec->consume(stream, data.size());
  }
  void onTrailers(int32_t stream, HeaderMap& trailers) override {
    Log& log = streams[stream];
    log.trailers = trailers;
    log.has_trailers = true;
    log.ended = true;
  }
  void onStreamClosed(int32_t stream, uint32_t error_code) override {
    Log& log = streams[stream];
    EXPECT_FALSE(log.closed) << "closed twice";
    log.closed = true;
    log.close_code = error_code;
  }
  void onGoaway(int32_t last_stream_id, uint32_t error_code) override {
    goaways.emplace_back(last_stream_id, error_code);
  }
  void onProtocolError(Http2ProtocolError kind) override { errors.push_back(kind); }
  void onStreamWritable(int32_t stream) override { writable.push_back(stream); }
  void onRequestRejected(int32_t stream, int status) override {
    rejected.emplace_back(stream, status);
  }

  Http2Codec* codec = nullptr;
  bool auto_consume = true;
  std::map<int32_t, Log> streams;
  std::vector<int32_t> order;
  std::vector<std::pair<int32_t, uint32_t>> goaways;
  std::vector<Http2ProtocolError> errors;
  std::vector<int32_t> writable;
  std::vector<std::pair<int32_t, int>> rejected;
};

// A client codec and a server codec joined in memory.
struct Pair {
  explicit Pair(Http2Limits server_limits = {}, Http2Limits client_limits = {})
      : server(Http2Codec::Mode::Server, server_events, server_limits, clock),
        client(Http2Codec::Mode::Client, client_events, client_limits, clock) {
    server_events.codec = &server;
    client_events.codec = &client;
  }

  // Moves bytes both ways until neither side has anything to send.
  void pump() {
    for (int round = 0; round < 10000; ++round) {
      std::string to_server, to_client;
      client.produce(to_server);
      server.produce(to_client);
      if (to_server.empty() && to_client.empty()) return;
      if (!to_server.empty() && server.wantsRead()) server.receive(to_server);
      if (!to_client.empty() && client.wantsRead()) client.receive(to_client);
    }
    ADD_FAILURE() << "pump did not settle";
  }

  policy::SimulatedTimeSource clock;
  Recorder server_events;
  Recorder client_events;
  Http2Codec server;
  Http2Codec client;
};

RequestHead makeRequest(std::string method, std::string path) {
  RequestHead head;
  head.method = std::move(method);
  head.path = std::move(path);
  head.authority = "svc.local";
  head.scheme = "http";
  return head;
}

ResponseHead makeResponse(int status) {
  ResponseHead head;
  head.status = status;
  return head;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
  return s;
}

// ---- raw frames for a misbehaving peer ------------------------------------------

struct Frame {
  uint8_t type;
  uint8_t flags;
  int32_t stream;
  std::string payload;
};

std::string frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
  std::string out;
  const size_t len = payload.size();
  out.push_back(static_cast<char>(len >> 16));
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(len));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((stream >> 24) & 0x7f));
  out.push_back(static_cast<char>(stream >> 16));
  out.push_back(static_cast<char>(stream >> 8));
  out.push_back(static_cast<char>(stream));
  out.append(payload);
  return out;
}

std::string u32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::vector<Frame> parseFrames(std::string_view bytes) {
  std::vector<Frame> frames;
  while (bytes.size() >= 9) {
    const auto b = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
    const size_t len = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
    if (bytes.size() < 9 + len) break;
    const int32_t stream =
        static_cast<int32_t>(((b(5) & 0x7f) << 24) | (b(6) << 16) | (b(7) << 8) | b(8));
    frames.push_back(Frame{b(3), b(4), stream, std::string(bytes.substr(9, len))});
    bytes.remove_prefix(9 + len);
  }
  return frames;
}

uint32_t readU32(std::string_view p, size_t at) {
  return (uint32_t{static_cast<uint8_t>(p[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(p[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[at + 2])} << 8) | static_cast<uint8_t>(p[at + 3]);
}

// The error code of the GOAWAY among `frames`, if any.
std::optional<uint32_t> goawayCode(const std::vector<Frame>& frames) {
  for (const Frame& f : frames) {
    if (f.type == NGHTTP2_GOAWAY && f.payload.size() >= 8) return readU32(f.payload, 4);
  }
  return std::nullopt;
}

// A hand-driven client: writes frames nghttp2 would never send.
class RawClient {
 public:
  RawClient() { nghttp2_hd_deflate_new(&deflater_, 4096); }
  ~RawClient() { nghttp2_hd_deflate_del(deflater_); }

  static std::string preface() {
    return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(NGHTTP2_SETTINGS, 0, 0, "");
  }
  std::string headers(int32_t stream, bool end_stream,
                      std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", "GET"}, {":scheme", "http"}, {":authority", "svc"}, {":path", "/"}};
    for (auto& f : extra) fields.push_back(std::move(f));
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) {
      nva.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(n.data()),
                               reinterpret_cast<uint8_t*>(v.data()), n.size(), v.size(),
                               NGHTTP2_NV_FLAG_NONE});
    }
    std::string block(nghttp2_hd_deflate_bound(deflater_, nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(block.data()),
                                            block.size(), nva.data(), nva.size());
    block.resize(static_cast<size_t>(n));
    const uint8_t flags = NGHTTP2_FLAG_END_HEADERS | (end_stream ? NGHTTP2_FLAG_END_STREAM : 0);
    return frame(NGHTTP2_HEADERS, flags, stream, block);
  }
  static std::string rst(int32_t stream, uint32_t code) {
    return frame(NGHTTP2_RST_STREAM, 0, stream, u32(code));
  }
  static std::string ping(uint64_t opaque) {
    return frame(NGHTTP2_PING, 0, 0, u32(static_cast<uint32_t>(opaque >> 32)) + u32(opaque));
  }

 private:
  nghttp2_hd_deflater* deflater_ = nullptr;
};

// A server codec fed by a RawClient.
struct RawServer {
  explicit RawServer(Http2Limits limits = {})
      : server(Http2Codec::Mode::Server, events, limits, clock) {
    events.codec = &server;
  }
  // Feeds bytes and returns the frames the server answers with.
  std::vector<Frame> feed(std::string_view bytes) {
    last_rv = server.receive(bytes);
    std::string out;
    server.produce(out);
    return parseFrames(out);
  }
  policy::SimulatedTimeSource clock;
  Recorder events;
  Http2Codec server;
  ssize_t last_rv = 0;
};

// ---- request / response ----------------------------------------------------------

TEST(Http2Codec, RequestAndResponseWithBodies) {
  Pair p;
  RequestHead req = makeRequest("POST", "/v2/models/resnet/infer?x=1");
  req.headers.add("content-type", "application/json");
  req.headers.add("x-tenant", "a");
  req.content_length = 11;
  const int32_t id = p.client.submitRequest(req, false);
  ASSERT_EQ(id, 1);
  ASSERT_TRUE(p.client.submitData(id, "hello ", false));
  ASSERT_TRUE(p.client.submitData(id, "world", true));
  p.pump();

  const auto& s = p.server_events.streams[id];
  ASSERT_TRUE(s.head);
  EXPECT_EQ(s.request.method, "POST");
  EXPECT_EQ(s.request.path, "/v2/models/resnet/infer?x=1");
  EXPECT_EQ(s.request.authority, "svc.local");
  EXPECT_EQ(s.request.scheme, "http");
  EXPECT_EQ(s.request.version_major, 2);
  EXPECT_EQ(s.request.content_length, 11u);
  EXPECT_EQ(s.request.headers.get("x-tenant"), "a");
  EXPECT_FALSE(s.request.is_grpc);
  EXPECT_EQ(s.body, "hello world");
  EXPECT_TRUE(s.ended);

  ResponseHead resp = makeResponse(200);
  resp.headers.add("Content-Type", "text/plain");
  resp.content_length = 4;
  ASSERT_TRUE(p.server.submitResponse(id, resp, false));
  ASSERT_TRUE(p.server.submitData(id, "done", true));
  p.pump();

  const auto& c = p.client_events.streams[id];
  ASSERT_TRUE(c.head);
  EXPECT_EQ(c.response.status, 200);
  EXPECT_EQ(c.response.headers.get("content-type"), "text/plain");
  EXPECT_EQ(c.response.content_length, 4u);
  EXPECT_EQ(c.body, "done");
  EXPECT_TRUE(c.closed);
  EXPECT_EQ(c.close_code, NGHTTP2_NO_ERROR);
  EXPECT_TRUE(p.server_events.streams[id].closed);
  EXPECT_EQ(p.server.openStreams(), 0u);
  EXPECT_EQ(p.client.openStreams(), 0u);
}

TEST(Http2Codec, LargeBodiesBothWaysCrossEveryWindow) {
  Pair p;
  const std::string up = pattern(3 * 1024 * 1024 + 17);
  const std::string down = pattern(2 * 1024 * 1024 + 5);
  const int32_t id = p.client.submitRequest(makeRequest("POST", "/big"), false);
  p.client.submitData(id, up, true);
  p.pump();
  ASSERT_EQ(p.server_events.streams[id].body.size(), up.size());
  EXPECT_TRUE(p.server_events.streams[id].body == up);
  p.server.submitResponse(id, makeResponse(200), false);
  p.server.submitData(id, down, true);
  p.pump();
  EXPECT_TRUE(p.client_events.streams[id].body == down);
  EXPECT_TRUE(p.client_events.streams[id].closed);
  EXPECT_EQ(p.client.totalSendQueueBytes(), 0u);
  EXPECT_EQ(p.server.totalSendQueueBytes(), 0u);
}

TEST(Http2Codec, ManyConcurrentStreamsStayApart) {
  Pair p;
  std::vector<int32_t> ids;
  for (int i = 0; i < 60; ++i) {
    const int32_t id =
        p.client.submitRequest(makeRequest("POST", "/s/" + std::to_string(i)), false);
    ids.push_back(id);
    p.client.submitData(id, "body-" + std::to_string(i), true);
  }
  p.pump();
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& s = p.server_events.streams[ids[i]];
    ASSERT_TRUE(s.head) << i;
    EXPECT_EQ(s.request.path, "/s/" + std::to_string(i));
    EXPECT_EQ(s.body, "body-" + std::to_string(i));
  }
  // Answer in reverse order, interleaving bodies.
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    p.server.submitResponse(*it, makeResponse(200), false);
    p.server.submitData(*it, "r" + p.server_events.streams[*it].request.path, false);
  }
  for (int32_t id : ids) p.server.submitData(id, "!", true);
  p.pump();
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& c = p.client_events.streams[ids[i]];
    EXPECT_EQ(c.body, "r/s/" + std::to_string(i) + "!");
    EXPECT_TRUE(c.closed);
  }
}

TEST(Http2Codec, GrpcStyleTrailersAndTeTrailers) {
  Pair p;
  RequestHead req = makeRequest("POST", "/pkg.Service/Method");
  req.headers.add("content-type", "application/grpc+proto");
  req.is_grpc = true;  // te was stripped as hop-by-hop on the way in; the codec restores it
  const int32_t id = p.client.submitRequest(req, false);
  p.client.submitData(id,
                      std::string("\0\0\0\0\x03"
                                  "abc",
                                  8),
                      true);
  p.pump();
  const auto& s = p.server_events.streams[id];
  ASSERT_TRUE(s.head);
  EXPECT_TRUE(s.request.is_grpc);
  EXPECT_EQ(s.request.headers.get("te"), "trailers");
  EXPECT_EQ(s.body.size(), 8u);

  ResponseHead resp = makeResponse(200);
  resp.headers.add("content-type", "application/grpc");
  p.server.submitResponse(id, resp, false);
  p.server.submitData(id, std::string("\0\0\0\0\x02ok", 7), false);
  HeaderMap trailers;
  trailers.add("grpc-status", "0");
  trailers.add("grpc-message", "fine");
  ASSERT_TRUE(p.server.submitTrailers(id, trailers));
  EXPECT_FALSE(p.server.submitData(id, "late", false)) << "no data after trailers";
  p.pump();
  const auto& c = p.client_events.streams[id];
  EXPECT_EQ(c.body.size(), 7u);
  ASSERT_TRUE(c.has_trailers);
  EXPECT_EQ(c.trailers.get("grpc-status"), "0");
  EXPECT_EQ(c.trailers.get("grpc-message"), "fine");
  EXPECT_TRUE(c.closed);
  EXPECT_EQ(c.close_code, NGHTTP2_NO_ERROR);
}

TEST(Http2Codec, RequestTrailersReachTheServer) {
  Pair p;
  const int32_t id = p.client.submitRequest(makeRequest("POST", "/t"), false);
  p.client.submitData(id, "abc", false);
  HeaderMap trailers;
  trailers.add("x-checksum", "123");
  p.client.submitTrailers(id, trailers);
  p.pump();
  const auto& s = p.server_events.streams[id];
  EXPECT_EQ(s.body, "abc");
  ASSERT_TRUE(s.has_trailers);
  EXPECT_EQ(s.trailers.get("x-checksum"), "123");
}

TEST(Http2Codec, TrailersOnlyGrpcErrorResponse) {
  Pair p;
  RequestHead req = makeRequest("POST", "/pkg.Service/Method");
  req.headers.add("content-type", "application/grpc");
  const int32_t id = p.client.submitRequest(req, true);
  p.pump();
  ASSERT_TRUE(p.server.submitResponse(
      id, makeGrpcErrorResponse(grpcStatusForHttp(503), "upstream down: 100% busy"), true));
  p.pump();
  const auto& c = p.client_events.streams[id];
  ASSERT_TRUE(c.head);
  EXPECT_TRUE(c.head_end);
  EXPECT_EQ(c.response.status, 200);
  EXPECT_EQ(c.response.headers.get("content-type"), "application/grpc");
  EXPECT_EQ(c.response.headers.get("grpc-status"), "14");
  EXPECT_EQ(c.response.headers.get("grpc-message"), "upstream down: 100%25 busy");
  EXPECT_TRUE(c.closed);
}

TEST(Http2Codec, ConnectionSpecificHeadersAreDroppedAndCookiesJoined) {
  Pair p;
  RequestHead req = makeRequest("GET", "/");
  req.headers.add("cookie", "a=1");
  req.headers.add("cookie", "b=2");
  req.headers.add("connection", "keep-alive, x-hop");
  req.headers.add("x-hop", "secret");
  req.headers.add("keep-alive", "timeout=5");
  req.headers.add("transfer-encoding", "chunked");
  req.headers.add("te", "gzip");
  req.headers.add("host", "ignored.example");
  req.headers.add("x-keep", "yes");
  const int32_t id = p.client.submitRequest(req, true);
  p.pump();
  const auto& s = p.server_events.streams[id];
  ASSERT_TRUE(s.head);
  EXPECT_EQ(s.request.authority, "svc.local");
  EXPECT_EQ(s.request.headers.get("cookie"), "a=1; b=2");
  EXPECT_FALSE(s.request.headers.get("connection"));
  EXPECT_FALSE(s.request.headers.get("x-hop"));
  EXPECT_FALSE(s.request.headers.get("keep-alive"));
  EXPECT_FALSE(s.request.headers.get("transfer-encoding"));
  EXPECT_FALSE(s.request.headers.get("te"));
  EXPECT_FALSE(s.request.headers.get("host"));
  EXPECT_EQ(s.request.headers.get("x-keep"), "yes");

  ResponseHead resp = makeResponse(204);
  resp.headers.add("Connection", "close");
  resp.headers.add("Upgrade", "h2c");
  resp.headers.add("x-served-by", "b");
  resp.content_length = 0;
  p.server.submitResponse(id, resp, true);
  p.pump();
  const auto& c = p.client_events.streams[id];
  EXPECT_EQ(c.response.status, 204);
  EXPECT_FALSE(c.response.headers.get("connection"));
  EXPECT_FALSE(c.response.headers.get("upgrade"));
  EXPECT_FALSE(c.response.headers.get("content-length")) << "204 carries no content-length";
  EXPECT_EQ(c.response.headers.get("x-served-by"), "b");
}

TEST(Http2Codec, InterimContinueIsNotReportedToTheClientOwner) {
  Pair p;
  RequestHead req = makeRequest("POST", "/upload");
  req.headers.add("expect", "100-continue");
  const int32_t id = p.client.submitRequest(req, false);
  p.pump();
  ASSERT_TRUE(p.server.submitContinue(id));
  p.pump();
  EXPECT_FALSE(p.client_events.streams[id].head);
  p.client.submitData(id, "payload", true);
  p.pump();
  EXPECT_EQ(p.server_events.streams[id].body, "payload");
  p.server.submitResponse(id, makeResponse(201), true);
  p.pump();
  EXPECT_EQ(p.client_events.streams[id].response.status, 201);
  EXPECT_TRUE(p.client_events.streams[id].head_end);
}

// ---- resets and GOAWAY -------------------------------------------------------------

TEST(Http2Codec, ClientResetReachesServerOwner) {
  Pair p;
  const int32_t id = p.client.submitRequest(makeRequest("POST", "/r"), false);
  p.client.submitData(id, "part", false);
  p.pump();
  ASSERT_TRUE(p.server_events.streams[id].head);
  ASSERT_TRUE(p.client.resetStream(id, NGHTTP2_CANCEL));
  p.pump();
  EXPECT_TRUE(p.server_events.streams[id].closed);
  EXPECT_EQ(p.server_events.streams[id].close_code, NGHTTP2_CANCEL);
  EXPECT_TRUE(p.client_events.streams[id].closed);
  EXPECT_FALSE(p.server.submitResponse(id, makeResponse(200), true)) << "stream is gone";
  EXPECT_TRUE(p.server_events.errors.empty());
}

TEST(Http2Codec, ServerResetMidResponseReachesClientOwner) {
  Pair p;
  const int32_t id = p.client.submitRequest(makeRequest("GET", "/r"), true);
  p.pump();
  p.server.submitResponse(id, makeResponse(200), false);
  p.server.submitData(id, "partial", false);
  p.pump();
  EXPECT_EQ(p.client_events.streams[id].body, "partial");
  p.server.resetStream(id, NGHTTP2_INTERNAL_ERROR);
  p.pump();
  EXPECT_TRUE(p.client_events.streams[id].closed);
  EXPECT_EQ(p.client_events.streams[id].close_code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_FALSE(p.client_events.streams[id].ended);
}

TEST(Http2Codec, GracefulGoawayDrainsInFlightStreams) {
  Pair p;
  const int32_t first = p.client.submitRequest(makeRequest("GET", "/a"), true);
  p.pump();
  p.server.submitGoaway(NGHTTP2_NO_ERROR, true);
  EXPECT_TRUE(p.server.draining());
  std::string notice;
  p.server.produce(notice);
  // A request already on its way when the notice left is still served.
  const int32_t crossing = p.client.submitRequest(makeRequest("GET", "/b"), true);
  std::string request;
  p.client.produce(request);
  p.server.receive(request);
  p.client.receive(notice);
  ASSERT_EQ(p.client_events.goaways.size(), 1u);
  EXPECT_EQ(p.client_events.goaways[0].first, 0x7fffffff);
  EXPECT_TRUE(p.server_events.streams[crossing].head);
  // After the notice the client opens nothing new (the caller retries elsewhere).
  EXPECT_EQ(p.client.submitRequest(makeRequest("GET", "/c"), true), -1);

  p.server.submitGoaway(NGHTTP2_NO_ERROR, false);
  p.pump();
  ASSERT_EQ(p.client_events.goaways.size(), 2u);
  EXPECT_EQ(p.client_events.goaways[1].first, crossing);
  EXPECT_EQ(p.client.submitRequest(makeRequest("GET", "/late"), true), -1);

  // In-flight streams complete, then the connection is done.
  EXPECT_TRUE(p.server.wantsRead());
  for (int32_t id : {first, crossing}) {
    p.server.submitResponse(id, makeResponse(200), false);
    p.server.submitData(id, "ok", true);
  }
  p.pump();
  EXPECT_EQ(p.client_events.streams[first].body, "ok");
  EXPECT_EQ(p.client_events.streams[crossing].body, "ok");
  EXPECT_FALSE(p.server.wantsRead());
  EXPECT_FALSE(p.server.wantsWrite());
  EXPECT_TRUE(p.server_events.errors.empty());
}

TEST(Http2Codec, StreamsAboveGoawayLastIdAreRefusedForRetry) {
  RawServer raw;
  RawClient rc;
  raw.feed(RawClient::preface() + rc.headers(1, true));
  raw.server.submitGoaway(NGHTTP2_NO_ERROR, false);
  std::string out;
  raw.server.produce(out);
  const auto goaway = goawayCode(parseFrames(out));
  ASSERT_TRUE(goaway);
  // Stream 3 was sent after the GOAWAY: refused, never reported to the owner.
  const auto frames = raw.feed(rc.headers(3, true));
  EXPECT_FALSE(raw.events.streams.count(3));
  EXPECT_TRUE(raw.events.streams[1].head);
}

// ---- flow control and backpressure ------------------------------------------------

TEST(Http2Codec, ReceiverNotConsumingStopsSenderAtTheWindow) {
  Http2Limits server_limits;
  server_limits.initial_stream_window = 64 * 1024;
  Pair p(server_limits);
  p.server_events.auto_consume = false;
  const std::string body = pattern(300 * 1024);
  const int32_t id = p.client.submitRequest(makeRequest("POST", "/slow"), false);
  p.client.submitData(id, body, true);
  p.pump();
  // Exactly one stream window arrived; the rest waits in the client's queue.
  EXPECT_EQ(p.server_events.streams[id].body.size(), 64u * 1024);
  EXPECT_EQ(p.client.sendQueueBytes(id), body.size() - 64 * 1024);
  p.pump();
  EXPECT_EQ(p.server_events.streams[id].body.size(), 64u * 1024) << "no progress without consume";

  // Consuming reopens the window and the rest follows.
  while (p.server_events.streams[id].body.size() < body.size()) {
    const size_t before = p.server_events.streams[id].body.size();
    p.server.consume(id, 64 * 1024);
    p.pump();
    ASSERT_GT(p.server_events.streams[id].body.size(), before);
  }
  EXPECT_TRUE(p.server_events.streams[id].body == body);
  EXPECT_TRUE(p.server_events.streams[id].ended);
}

TEST(Http2Codec, OneSlowStreamDoesNotStallAnother) {
  Http2Limits server_limits;
  server_limits.initial_stream_window = 32 * 1024;
  Pair p(server_limits);
  p.server_events.auto_consume = false;
  p.pump();  // SETTINGS exchanged: the 32 KiB stream window applies
  const int32_t slow = p.client.submitRequest(makeRequest("POST", "/slow"), false);
  const int32_t fast = p.client.submitRequest(makeRequest("POST", "/fast"), false);
  p.client.submitData(slow, pattern(200 * 1024), true);
  p.pump();
  p.client.submitData(fast, pattern(20 * 1024), true);
  p.pump();
  EXPECT_EQ(p.server_events.streams[slow].body.size(), 32u * 1024);
  EXPECT_EQ(p.server_events.streams[fast].body.size(), 20u * 1024);
  EXPECT_TRUE(p.server_events.streams[fast].ended);
}

TEST(Http2Codec, WindowOfAStreamClosedUnconsumedIsGivenBack) {
  Http2Limits server_limits;
  server_limits.initial_stream_window = 128 * 1024;
  server_limits.connection_window = 128 * 1024;
  Pair p(server_limits);
  p.server_events.auto_consume = false;
  const int32_t a = p.client.submitRequest(makeRequest("POST", "/a"), false);
  p.client.submitData(a, pattern(128 * 1024), false);
  p.pump();
  ASSERT_EQ(p.server_events.streams[a].body.size(), 128u * 1024);
  // The connection window is spent. Stream b only moves if a's bytes come back when it closes.
  p.client.resetStream(a, NGHTTP2_CANCEL);
  p.pump();
  const int32_t b = p.client.submitRequest(makeRequest("POST", "/b"), false);
  p.client.submitData(b, pattern(100 * 1024), true);
  p.pump();
  EXPECT_EQ(p.server_events.streams[b].body.size(), 100u * 1024);
}

TEST(Http2Codec, DataSourceDefersUntilOwnerAppends) {
  Pair p;
  const int32_t id = p.client.submitRequest(makeRequest("GET", "/stream"), true);
  p.pump();
  p.server.submitResponse(id, makeResponse(200), false);
  p.pump();
  EXPECT_TRUE(p.client_events.streams[id].head);
  EXPECT_FALSE(p.client_events.streams[id].ended);
  EXPECT_FALSE(p.server.wantsWrite()) << "deferred source: nothing to send";
  p.server.submitData(id, "chunk1", false);
  EXPECT_TRUE(p.server.wantsWrite());
  p.pump();
  EXPECT_EQ(p.client_events.streams[id].body, "chunk1");
  p.server.submitData(id, "chunk2", false);
  p.pump();
  EXPECT_EQ(p.client_events.streams[id].body, "chunk1chunk2");
  EXPECT_FALSE(p.client_events.streams[id].ended);
  p.server.submitData(id, "", true);
  p.pump();
  EXPECT_TRUE(p.client_events.streams[id].ended);
  EXPECT_TRUE(p.client_events.streams[id].closed);
}

TEST(Http2Codec, SendQueueWatermarkSignalsBackpressureAndRecovery) {
  Http2Limits server_limits;
  server_limits.stream_send_high_watermark = 64 * 1024;
  Http2Limits client_limits;
  client_limits.initial_stream_window = 16 * 1024;
  Pair p(server_limits, client_limits);
  p.client_events.auto_consume = false;
  const int32_t id = p.client.submitRequest(makeRequest("GET", "/big"), true);
  p.pump();
  p.server.submitResponse(id, makeResponse(200), false);
  EXPECT_TRUE(p.server.streamWritable(id));
  p.server.submitData(id, pattern(200 * 1024), false);
  EXPECT_FALSE(p.server.streamWritable(id));
  p.pump();
  EXPECT_EQ(p.client_events.streams[id].body.size(), 16u * 1024);
  EXPECT_FALSE(p.server.streamWritable(id));
  EXPECT_TRUE(p.server_events.writable.empty());
  // The client reads; once the queue falls to half the watermark the owner hears about it.
  int rounds = 0;
  while (p.server_events.writable.empty() && rounds++ < 100) {
    p.client.consume(id, 16 * 1024);
    p.pump();
  }
  ASSERT_EQ(p.server_events.writable.size(), 1u);
  EXPECT_EQ(p.server_events.writable[0], id);
  EXPECT_LE(p.server.sendQueueBytes(id), 32u * 1024);
  EXPECT_TRUE(p.server.streamWritable(id));
}

TEST(Http2Codec, ProduceStopsAtTheCallersLimit) {
  Pair p;
  const int32_t id = p.client.submitRequest(makeRequest("GET", "/"), true);
  p.pump();
  p.server.submitResponse(id, makeResponse(200), false);
  p.server.submitData(id, pattern(100 * 1024), true);
  std::string out;
  const size_t n = p.server.produce(out, 10 * 1024);
  EXPECT_GE(n, 10u * 1024);
  EXPECT_LT(n, 10u * 1024 + 16 * 1024 + 64);
  EXPECT_TRUE(p.server.wantsWrite());
}

TEST(Http2Codec, StalledStreamIsResetAfterMaxStall) {
  Http2Limits client_limits;
  client_limits.initial_stream_window = 16 * 1024;
  Pair p({}, client_limits);
  p.client_events.auto_consume = false;
  const int32_t id = p.client.submitRequest(makeRequest("GET", "/stuck"), true);
  const int32_t other = p.client.submitRequest(makeRequest("GET", "/idle"), true);
  p.pump();
  p.server.submitResponse(id, makeResponse(200), false);
  p.server.submitData(id, pattern(64 * 1024), true);
  p.server.submitResponse(other, makeResponse(200), false);  // no bytes queued: not stalled
  p.pump();
  p.clock.advance(5s);
  EXPECT_EQ(p.server.resetStalledStreams(10s), 0u);
  p.server.submitData(other, pattern(1024), false);  // the connection itself still moves
  p.pump();
  p.clock.advance(6s);
  EXPECT_EQ(p.server.resetStalledStreams(10s), 1u);
  p.pump();
  EXPECT_TRUE(p.client_events.streams[id].closed);
  EXPECT_EQ(p.client_events.streams[id].close_code, NGHTTP2_CANCEL);
  EXPECT_FALSE(p.client_events.streams[other].closed);
  EXPECT_EQ(p.client_events.streams[other].body.size(), 1024u);
  EXPECT_EQ(p.server.totalSendQueueBytes(), 0u);
  EXPECT_TRUE(p.server_events.errors.empty());
}

TEST(Http2Codec, ConnectionWhoseEveryWindowStaysShutIsFailed) {
  Http2Limits client_limits;
  client_limits.initial_stream_window = 16 * 1024;
  Pair p({}, client_limits);
  p.client_events.auto_consume = false;
  const int32_t id = p.client.submitRequest(makeRequest("GET", "/stuck"), true);
  p.pump();
  p.server.submitResponse(id, makeResponse(200), false);
  p.server.submitData(id, pattern(64 * 1024), true);
  p.pump();
  p.clock.advance(11s);
  EXPECT_EQ(p.server.resetStalledStreams(10s), 1u);
  ASSERT_EQ(p.server_events.errors.size(), 1u);
  EXPECT_EQ(p.server_events.errors[0], Http2ProtocolError::ZeroWindowStall);
  EXPECT_TRUE(p.server.failed());
  p.pump();
  ASSERT_EQ(p.client_events.goaways.size(), 1u);
  EXPECT_EQ(p.client_events.goaways[0].second, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_FALSE(p.server.wantsWrite());
}

// ---- limits ---------------------------------------------------------------------------

TEST(Http2Codec, ExtraConcurrentStreamsAreRefused) {
  Http2Limits limits;
  limits.max_concurrent_streams = 2;
  RawServer raw(limits);
  RawClient rc;
  // One header block per statement: HPACK state must follow wire order.
  std::string bytes = RawClient::preface();
  bytes += rc.headers(1, false);
  bytes += rc.headers(3, false);
  bytes += rc.headers(5, false);
  const auto frames = raw.feed(bytes);
  EXPECT_TRUE(raw.events.streams[1].head);
  EXPECT_TRUE(raw.events.streams[3].head);
  EXPECT_FALSE(raw.events.streams.count(5));
  bool refused = false;
  for (const Frame& f : frames) {
    if (f.type == NGHTTP2_RST_STREAM && f.stream == 5) {
      refused = readU32(f.payload, 0) == NGHTTP2_REFUSED_STREAM;
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(raw.events.errors.empty());
}

TEST(Http2Codec, ClientQueuesRequestsBeyondThePeersLimit) {
  Http2Limits server_limits;
  server_limits.max_concurrent_streams = 2;
  Pair p(server_limits);
  p.pump();  // SETTINGS exchanged
  std::vector<int32_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(p.client.submitRequest(makeRequest("GET", "/"), true));
  p.pump();
  EXPECT_EQ(p.server_events.order.size(), 2u);
  while (p.server_events.order.size() < 5) {
    const size_t served = p.server_events.order.size();
    for (int32_t id : p.server_events.order) p.server.submitResponse(id, makeResponse(200), true);
    p.pump();
    ASSERT_GT(p.server_events.order.size(), served);
  }
  for (int32_t id : p.server_events.order) p.server.submitResponse(id, makeResponse(200), true);
  p.pump();
  for (int32_t id : ids) EXPECT_EQ(p.client_events.streams[id].response.status, 200);
}

TEST(Http2Codec, RequestsQueuedBehindTheLimitAreRefusedByGoaway) {
  Http2Limits server_limits;
  server_limits.max_concurrent_streams = 1;
  Pair p(server_limits);
  p.pump();
  const int32_t sent = p.client.submitRequest(makeRequest("GET", "/1"), true);
  const int32_t queued = p.client.submitRequest(makeRequest("GET", "/2"), true);
  p.pump();
  ASSERT_TRUE(p.server_events.streams[sent].head);
  EXPECT_FALSE(p.server_events.streams.count(queued));
  p.server.submitGoaway(NGHTTP2_NO_ERROR, false);
  p.pump();
  // Never sent, so certainly not processed: the owner may retry it on another connection.
  EXPECT_TRUE(p.client_events.streams[queued].closed);
  EXPECT_EQ(p.client_events.streams[queued].close_code, NGHTTP2_REFUSED_STREAM);
  EXPECT_FALSE(p.client_events.streams[sent].closed);
  p.server.submitResponse(sent, makeResponse(200), true);
  p.pump();
  EXPECT_EQ(p.client_events.streams[sent].response.status, 200);
  EXPECT_FALSE(p.client.wantsRead());
}

TEST(Http2Codec, RequestHeaderListTooLargeGets431) {
  Http2Limits server_limits;
  server_limits.max_header_list_bytes = 4096;
  Pair p(server_limits);
  RequestHead req = makeRequest("POST", "/");
  req.headers.add("x-big", std::string(5000, 'x'));
  const int32_t id = p.client.submitRequest(req, false);
  p.client.submitData(id, "body that nobody reads", false);
  p.pump();
  EXPECT_FALSE(p.server_events.streams.count(id)) << "the owner never sees it";
  ASSERT_EQ(p.server_events.rejected.size(), 1u);
  EXPECT_EQ(p.server_events.rejected[0].second, 431);
  EXPECT_EQ(p.client_events.streams[id].response.status, 431);
  EXPECT_TRUE(p.client_events.streams[id].closed);
  // The connection stays usable.
  const int32_t next = p.client.submitRequest(makeRequest("GET", "/ok"), true);
  p.pump();
  EXPECT_TRUE(p.server_events.streams[next].head);
  EXPECT_TRUE(p.server_events.errors.empty());
}

TEST(Http2Codec, ResponseHeaderListTooLargeResetsTheStream) {
  Http2Limits client_limits;
  client_limits.max_header_list_bytes = 4096;
  Pair p({}, client_limits);
  const int32_t id = p.client.submitRequest(makeRequest("GET", "/"), true);
  p.pump();
  ResponseHead resp = makeResponse(200);
  resp.headers.add("x-big", std::string(5000, 'y'));
  p.server.submitResponse(id, resp, true);
  p.pump();
  EXPECT_FALSE(p.client_events.streams[id].head);
  EXPECT_TRUE(p.client_events.streams[id].closed);
  EXPECT_NE(p.client_events.streams[id].close_code, NGHTTP2_NO_ERROR);
}

// ---- abuse ----------------------------------------------------------------------------

TEST(Http2Codec, RapidResetFloodEndsWithGoaway) {
  RawServer raw;
  RawClient rc;
  std::string bytes = RawClient::preface();
  for (int32_t i = 0; i < 300; ++i) {
    const int32_t stream = 2 * i + 1;
    bytes += rc.headers(stream, true) + RawClient::rst(stream, NGHTTP2_CANCEL);
  }
  const auto frames = raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::RapidReset);
  EXPECT_EQ(goawayCode(frames), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_LT(raw.last_rv, 0);
  EXPECT_FALSE(raw.server.wantsRead());
  // Judged at the 100th stream: nothing past it reached the owner.
  EXPECT_EQ(raw.events.order.size(), 100u);
}

TEST(Http2Codec, CancellationsAmongAnsweredStreamsAreNotAbuse) {
  RawServer raw;
  RawClient rc;
  raw.feed(RawClient::preface());
  for (int32_t i = 0; i < 300; ++i) {
    const int32_t stream = 2 * i + 1;
    raw.feed(rc.headers(stream, true));
    if (i % 4 == 0) {
      raw.feed(RawClient::rst(stream, NGHTTP2_CANCEL));  // a hedging client cancels a loser
    } else {
      raw.server.submitResponse(stream, makeResponse(200), true);
      raw.feed("");
    }
  }
  EXPECT_TRUE(raw.events.errors.empty());
  EXPECT_TRUE(raw.server.wantsRead());
}

TEST(Http2Codec, SettingsFloodEndsWithGoaway) {
  RawServer raw;
  std::string bytes = RawClient::preface();
  for (int i = 0; i < 80; ++i) bytes += frame(NGHTTP2_SETTINGS, 0, 0, "");
  const auto frames = raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::SettingsFlood);
  EXPECT_EQ(goawayCode(frames), NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST(Http2Codec, SettingsAtAModestRateAreFine) {
  RawServer raw;
  raw.feed(RawClient::preface());
  for (int i = 0; i < 300; ++i) {
    raw.clock.advance(150ms);  // ~6.7 per second, under the 10/s refill
    raw.feed(frame(NGHTTP2_SETTINGS, 0, 0, ""));
  }
  EXPECT_TRUE(raw.events.errors.empty());
}

TEST(Http2Codec, PingFloodEndsWithGoaway) {
  RawServer raw;
  std::string bytes = RawClient::preface();
  for (uint64_t i = 0; i < 250; ++i) bytes += RawClient::ping(i);
  const auto frames = raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::PingFlood);
  EXPECT_EQ(goawayCode(frames), NGHTTP2_ENHANCE_YOUR_CALM);
  size_t acks = 0;
  for (const Frame& f : frames) acks += f.type == NGHTTP2_PING;
  EXPECT_LE(acks, 200u) << "no more than the burst is answered";
}

TEST(Http2Codec, KeepalivePingsAreFine) {
  RawServer raw;
  raw.feed(RawClient::preface());
  for (uint64_t i = 0; i < 1000; ++i) {
    raw.clock.advance(30ms);  // 33 per second, under the 50/s refill
    const auto frames = raw.feed(RawClient::ping(i));
    ASSERT_EQ(frames.size(), 1u);  // the PING ACK
  }
  EXPECT_TRUE(raw.events.errors.empty());
}

TEST(Http2Codec, EmptyDataFrameFloodEndsWithGoaway) {
  RawServer raw;
  RawClient rc;
  std::string bytes = RawClient::preface() + rc.headers(1, false);
  for (int i = 0; i < 5; ++i) bytes += frame(NGHTTP2_DATA, 0, 1, "");
  const auto frames = raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::EmptyFrameFlood);
  EXPECT_EQ(goawayCode(frames), NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST(Http2Codec, WindowUpdateFloodEndsWithGoaway) {
  RawServer raw;
  std::string bytes = RawClient::preface();
  for (int i = 0; i < 200; ++i) bytes += frame(NGHTTP2_WINDOW_UPDATE, 0, 0, u32(1));
  raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::WindowUpdateFlood);
}

TEST(Http2Codec, PriorityFloodEndsWithGoaway) {
  Http2Limits limits;
  limits.priority_frames_per_stream = 10;
  RawServer raw(limits);
  std::string bytes = RawClient::preface();
  // PRIORITY frames for idle streams: no stream opened, so the allowance stays at 10.
  for (int i = 0; i < 20; ++i)
    bytes += frame(NGHTTP2_PRIORITY, 0, 2 * i + 101, u32(0) + std::string(1, '\x10'));
  raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::PriorityFlood);
}

TEST(Http2Codec, TooManyContinuationsEndWithGoaway) {
  RawServer raw;
  RawClient rc;
  std::string block = rc.headers(1, true, {{"x-trace", "0123456789abcdef0123456789"}});
  // Re-frame the block: HEADERS without END_HEADERS, then many tiny CONTINUATIONs.
  std::string bytes = RawClient::preface();
  const std::string payload = block.substr(9);
  bytes += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, payload.substr(0, 1));
  for (size_t i = 1; i < payload.size(); ++i) {
    const bool last = i + 1 == payload.size();
    bytes +=
        frame(NGHTTP2_CONTINUATION, last ? NGHTTP2_FLAG_END_HEADERS : 0, 1, payload.substr(i, 1));
  }
  ASSERT_GT(payload.size(), 10u);
  const auto frames = raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::ContinuationFlood);
  EXPECT_TRUE(goawayCode(frames));
}

TEST(Http2Codec, MalformedFrameEndsWithGoaway) {
  RawServer raw;
  // A SETTINGS frame whose length is not a multiple of 6.
  const auto frames = raw.feed(RawClient::preface() + frame(NGHTTP2_SETTINGS, 0, 0, "12345"));
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::Malformed);
  EXPECT_EQ(goawayCode(frames), NGHTTP2_FRAME_SIZE_ERROR);
  EXPECT_FALSE(raw.server.wantsRead());
}

TEST(Http2Codec, BadPrefaceEndsWithGoaway) {
  RawServer raw;
  const auto frames = raw.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_LT(raw.last_rv, 0);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::Malformed);
  EXPECT_EQ(goawayCode(frames), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(raw.server.wantsRead());
  EXPECT_FALSE(raw.server.wantsWrite());
  EXPECT_LT(raw.server.receive("more"), 0);
}

TEST(Http2Codec, DataBeyondTheWindowIsAFlowControlError) {
  Http2Limits limits;
  limits.initial_stream_window = 16 * 1024;
  limits.connection_window = 16 * 1024;
  RawServer raw(limits);
  raw.events.auto_consume = false;
  RawClient rc;
  raw.feed(RawClient::preface() + rc.headers(1, false));
  std::string bytes;
  // The client ignores our SETTINGS ACK-wise and pushes 70 KB (the default 64 KiB window
  // applies until it ACKs; past that it is a violation either way).
  for (int i = 0; i < 5; ++i) bytes += frame(NGHTTP2_DATA, 0, 1, pattern(16 * 1024));
  const auto frames = raw.feed(bytes);
  ASSERT_EQ(raw.events.errors.size(), 1u);
  EXPECT_EQ(raw.events.errors[0], Http2ProtocolError::FlowControl);
  EXPECT_EQ(goawayCode(frames), NGHTTP2_FLOW_CONTROL_ERROR);
}

// ---- helpers --------------------------------------------------------------------------

TEST(Http2Preface, DetectsPriorKnowledgeAndAsksForMore) {
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  EXPECT_EQ(Http2Codec::looksLikeH2Preface(preface), PrefaceMatch::Http2);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface(preface + "\x00\x00\x00\x04"), PrefaceMatch::Http2);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface(""), PrefaceMatch::NeedMore);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface("P"), PrefaceMatch::NeedMore);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface("PRI * HTTP/2.0\r\n"), PrefaceMatch::NeedMore);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface(preface.substr(0, 23)), PrefaceMatch::NeedMore);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface("POST / HTTP/1.1\r\n"), PrefaceMatch::NotHttp2);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface("GET"), PrefaceMatch::NotHttp2);
  EXPECT_EQ(Http2Codec::looksLikeH2Preface("PRI * HTTP/1.1\r\n"), PrefaceMatch::NotHttp2);
}

TEST(GrpcTimeout, ParsesEveryUnit) {
  EXPECT_EQ(parseGrpcTimeout("100m"), std::chrono::milliseconds(100));
  EXPECT_EQ(parseGrpcTimeout("5S"), std::chrono::seconds(5));
  EXPECT_EQ(parseGrpcTimeout("1H"), std::chrono::hours(1));
  EXPECT_EQ(parseGrpcTimeout("2M"), std::chrono::minutes(2));
  EXPECT_EQ(parseGrpcTimeout("200u"), std::chrono::microseconds(200));
  EXPECT_EQ(parseGrpcTimeout("30n"), std::chrono::nanoseconds(30));
  EXPECT_EQ(parseGrpcTimeout("0m"), policy::Duration::zero());
  EXPECT_EQ(parseGrpcTimeout("99999999S"), std::chrono::seconds(99999999));
}

TEST(GrpcTimeout, RejectsMalformedValues) {
  for (const char* bad :
       {"", "m", "100", "100x", "-1S", "1.5S", "123456789S", " 1S", "1S ", "1s", "1h", "0x1S"}) {
    EXPECT_FALSE(parseGrpcTimeout(bad)) << bad;
  }
}

TEST(GrpcTimeout, FormatsInTheFinestUnitThatFits) {
  EXPECT_EQ(formatGrpcTimeout(std::chrono::milliseconds(250)), "250000u");
  EXPECT_EQ(formatGrpcTimeout(std::chrono::microseconds(99999)), "99999000n");
  EXPECT_EQ(formatGrpcTimeout(std::chrono::seconds(5)), "5000000u");
  EXPECT_EQ(formatGrpcTimeout(std::chrono::hours(30)), "108000S");
  EXPECT_EQ(formatGrpcTimeout(policy::Duration(-5)), "0n");
  for (auto d : {policy::Duration(std::chrono::microseconds(1234567891)),
                 policy::Duration(std::chrono::seconds(123456789))}) {
    const auto back = parseGrpcTimeout(formatGrpcTimeout(d));
    ASSERT_TRUE(back);
    EXPECT_LE(*back, d);                  // a propagated deadline is never longer than ours
    EXPECT_LT(d - *back, d / 1'000'000);  // 8 significant digits at least 7 kept
  }
}

TEST(GrpcStatusMapping, FollowsTheDocumentedTable) {
  EXPECT_EQ(grpcStatusForHttp(503), GrpcStatus::Unavailable);
  EXPECT_EQ(grpcStatusForHttp(502), GrpcStatus::Unavailable);
  EXPECT_EQ(grpcStatusForHttp(504), GrpcStatus::DeadlineExceeded);
  EXPECT_EQ(grpcStatusForHttp(429), GrpcStatus::ResourceExhausted);
  EXPECT_EQ(grpcStatusForHttp(404), GrpcStatus::Unimplemented);
  EXPECT_EQ(grpcStatusForHttp(400), GrpcStatus::Internal);
  EXPECT_EQ(grpcStatusForHttp(401), GrpcStatus::Unauthenticated);
  EXPECT_EQ(grpcStatusForHttp(403), GrpcStatus::PermissionDenied);
  EXPECT_EQ(grpcStatusForHttp(413), GrpcStatus::ResourceExhausted);
  EXPECT_EQ(grpcStatusForHttp(418), GrpcStatus::Unknown);
}

TEST(GrpcErrorResponse, IsTrailersOnlyWithEncodedMessage) {
  const ResponseHead head = makeGrpcErrorResponse(GrpcStatus::ResourceExhausted, "shed\n50%é");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers.get("content-type"), "application/grpc");
  EXPECT_EQ(head.headers.get("grpc-status"), "8");
  EXPECT_EQ(head.headers.get("grpc-message"), "shed%0A50%25%C3%A9");
  EXPECT_FALSE(makeGrpcErrorResponse(GrpcStatus::Unavailable, "").headers.get("grpc-message"));
}

TEST(Http2FloodGuard, BucketsRefillAtTheirRate) {
  Http2Limits limits;
  limits.ping_burst = 3;
  limits.ping_rate_per_second = 2;
  policy::SimulatedTimeSource clock;
  Http2FloodGuard guard(limits, clock.now());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(guard.onPing(clock.now()));
  EXPECT_EQ(guard.onPing(clock.now()), Http2ProtocolError::PingFlood);
  clock.advance(500ms);  // one token back
  EXPECT_FALSE(guard.onPing(clock.now()));
  EXPECT_TRUE(guard.onPing(clock.now()));
  clock.advance(std::chrono::hours(1));  // capped at the burst
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(guard.onPing(clock.now()));
  EXPECT_TRUE(guard.onPing(clock.now()));
}

TEST(Http2FloodGuard, PrematureResetRatioNeedsEnoughStreams) {
  Http2Limits limits;
  limits.premature_reset_min_streams = 10;
  limits.premature_reset_ratio = 0.5;
  policy::SimulatedTimeSource clock;
  Http2FloodGuard guard(limits, clock.now());
  for (int i = 0; i < 9; ++i) {
    guard.onStreamOpened();
    EXPECT_FALSE(guard.onPrematureReset()) << "too few streams to judge";
  }
  for (int i = 0; i < 10; ++i) guard.onStreamOpened();                  // 19 opened, 9 reset
  EXPECT_EQ(guard.onPrematureReset(), Http2ProtocolError::RapidReset);  // 10/19
}

TEST(Http2FloodGuard, EmptyFramesCountOnlyInARow) {
  Http2Limits limits;
  limits.max_consecutive_empty_frames = 2;
  policy::SimulatedTimeSource clock;
  Http2FloodGuard guard(limits, clock.now());
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(guard.onDataFrame(0, false));
    EXPECT_FALSE(guard.onDataFrame(0, false));
    EXPECT_FALSE(guard.onDataFrame(10, false));
  }
  EXPECT_FALSE(guard.onDataFrame(0, true)) << "an empty END_STREAM frame is legitimate";
  EXPECT_FALSE(guard.onDataFrame(0, false));
  EXPECT_FALSE(guard.onDataFrame(0, false));
  EXPECT_EQ(guard.onDataFrame(0, false), Http2ProtocolError::EmptyFrameFlood);
}

TEST(Http2FloodGuard, WindowUpdatesEarnedByDataSent) {
  Http2Limits limits;
  limits.window_updates_per_data_frame = 10;
  policy::SimulatedTimeSource clock;
  Http2FloodGuard guard(limits, clock.now());
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(guard.onWindowUpdate());
  EXPECT_TRUE(guard.onWindowUpdate());
  Http2FloodGuard busy(limits, clock.now());
  for (int i = 0; i < 50; ++i) busy.onDataFrameSent();
  for (int i = 0; i < 600; ++i) ASSERT_FALSE(busy.onWindowUpdate());
  EXPECT_TRUE(busy.onWindowUpdate());
}

}  // namespace
}  // namespace rampart::http
